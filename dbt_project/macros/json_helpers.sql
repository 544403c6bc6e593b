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

{#- Parse a JSON document once into a struct of the fields a model reads (DuckDB json_transform):
    `shape` is a dict of field name -> 'VARCHAR' | nested dict | [nested dict] (a list of objects).
    Every leaf is read as text, exactly as `->>` would (numbers as written, objects as JSON text),
    so the casts stay the models' own; one parse replaces a `->>` per field (each parses the whole
    document again). A missing or null field gives null; a null or absent list gives a null list. -#}
{% macro json_shape(json_expr, shape) -%}
    json_transform({{ json_expr }}, '{{ tojson(shape) }}')
{%- endmacro %}

{#- Text (e.g. a field of json_shape) -> decimal money / integer; empty -> null. -#}
{% macro text_money(text_expr) -%}
    cast(nullif(trim({{ text_expr }}), '') as decimal(18, 4))
{%- endmacro %}

{% macro text_int(text_expr) -%}
    cast(nullif(trim({{ text_expr }}), '') as bigint)
{%- endmacro %}
