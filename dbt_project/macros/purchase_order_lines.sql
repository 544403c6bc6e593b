{#-
    Purchase order lines in one shape, from any raw table with the open-PO columns of DESIGN.md
    (the PO export of an ERP, or the buyer decisions the file connector turned into POs).
    Open quantity = ordered - received for status open/partial, else 0.
-#}
{% macro purchase_order_lines(source_relation) -%}
with

source as (
    {{ latest_version(source_relation) }}
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as po_line_id,
        trim(_payload ->> 'po_id') as po_id,
        trim(_payload ->> 'supplier_id') as supplier_id,
        trim(_payload ->> 'sku') as sku,
        trim(_payload ->> 'location_id') as location_id,
        coalesce(cast(cast(nullif(trim(_payload ->> 'quantity_ordered'), '') as decimal(18, 4)) as integer), 0)
            as quantity_ordered,
        coalesce(cast(cast(nullif(trim(_payload ->> 'quantity_received'), '') as decimal(18, 4)) as integer), 0)
            as quantity_received,
        cast(left(nullif(trim(_payload ->> 'ordered_at'), ''), 10) as date) as ordered_date,
        cast(left(nullif(trim(_payload ->> 'expected_at'), ''), 10) as date) as expected_date,
        lower(trim(_payload ->> 'status')) as status,
        _source_updated_at as updated_at
    from source
),

final as (
    select
        *,
        case
            when status in ('open', 'partial') then greatest(quantity_ordered - quantity_received, 0)
            else 0
        end as quantity_open
    from renamed
)

select * from final
{%- endmacro %}
