{#- The current version of every source record: per `_source_id`, the row with the greatest
    (`_source_updated_at`, `_loaded_at`) (raw-contract.md). A version without a source time
    (Amazon order items from the API, supplier terms) counts as updated when it landed, so the
    latest landing wins. Ties are broken by payload hash so the pick is deterministic. -#}
{% macro latest_version(source_relation) -%}
    select *
    from {{ source_relation }}
    qualify row_number() over (
        partition by _source_id
        order by
            coalesce(_source_updated_at, _loaded_at) desc nulls last,
            _loaded_at desc nulls last,
            _payload_hash desc
    ) = 1
{%- endmacro %}
