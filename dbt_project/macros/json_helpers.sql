{#- JSON helpers for DuckDB. Money is always read as text and cast to decimal, never via double. -#}

{% macro json_text(json_expr, path) -%}
    ({{ json_expr }} ->> '{{ path }}')
{%- endmacro %}

{% macro json_money(json_expr, path) -%}
    cast(nullif(trim({{ json_expr }} ->> '{{ path }}'), '') as decimal(18, 4))
{%- endmacro %}

{% macro json_int(json_expr, path) -%}
    cast(nullif(trim({{ json_expr }} ->> '{{ path }}'), '') as bigint)
{%- endmacro %}

{#- array inside a JSON document -> list of json values (empty/null -> no rows when unnested) -#}
{% macro json_array(json_expr, path) -%}
    cast(json_extract({{ json_expr }}, '{{ path }}') as json[])
{%- endmacro %}

{#- Timestamps with an offset (or Z): parsed as instants. -#}
{% macro to_utc_ts(text_expr) -%}
    cast(nullif(trim({{ text_expr }}), '') as timestamptz)
{%- endmacro %}

{#- Timestamps without an offset that are known to be in `tz` (Woo *_gmt: 'UTC'; tills: their zone). -#}
{% macro local_to_utc_ts(text_expr, tz_expr="'UTC'") -%}
    timezone({{ tz_expr }}, cast(nullif(trim({{ text_expr }}), '') as timestamp))
{%- endmacro %}

{#- Date of an instant in the business time zone. -#}
{% macro business_date(ts_expr) -%}
    cast(timezone('{{ var("business_timezone") }}', {{ ts_expr }}) as date)
{%- endmacro %}

{#- Normalised e-mail: lower(trim()), empty -> null. -#}
{% macro normalize_email(expr) -%}
    nullif(lower(trim({{ expr }})), '')
{%- endmacro %}
