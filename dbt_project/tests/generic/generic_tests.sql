{#- Generic data tests (no dbt hub packages available). -#}

{% test non_negative(model, column_name) %}
select *
from {{ model }}
where {{ column_name }} < 0
{% endtest %}

{#- Every row satisfies `column = expression` (null-safe, with an optional tolerance for money). -#}
{% test equals_expression(model, column_name, expression, tolerance=0, where_clause=none) %}
select *
from {{ model }}
where not (
    ({{ column_name }} is null and ({{ expression }}) is null)
    or abs(({{ column_name }}) - ({{ expression }})) <= {{ tolerance }}
)
{% if where_clause %} and ({{ where_clause }}) {% endif %}
{% endtest %}

{#- Total of `column_name` in the model equals the total of `compare_expression` in `compare_model`
    (e.g. mart units = staging units), each side optionally filtered. -#}
{% test sum_matches(model, column_name, compare_model, compare_expression, where_clause=none, compare_where=none, tolerance=0) %}
with a as (
    select coalesce(sum({{ column_name }}), 0) as total
    from {{ model }}
    {% if where_clause %} where {{ where_clause }} {% endif %}
),
b as (
    select coalesce(sum({{ compare_expression }}), 0) as total
    from {{ compare_model }}
    {% if compare_where %} where {{ compare_where }} {% endif %}
)
select a.total as model_total, b.total as compare_total
from a cross join b
where abs(a.total - b.total) > {{ tolerance }}
{% endtest %}

{#- Combination of columns is unique. Duplicates are looked for by a hash of the combination first
    (one integer per row to group, instead of the columns: faster on the 14 M-row day x SKU x
    location tables), then confirmed on the columns themselves. -#}
{% test unique_combination(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}
select {{ columns }}, count(*) as n
from {{ model }}
where hash({{ columns }}) in (
    select hash({{ columns }})
    from {{ model }}
    group by 1
    having count(*) > 1
)
group by all
having count(*) > 1
{% endtest %}

{#- Every currency the model uses (other than the base currency) has at least one FX rate in
    `rates_model`. Carry-forward covers gaps between rates; a currency with no rate at all cannot
    be converted, so its money would be null: fail and name the currency. -#}
{% test has_fx_rates(model, column_name, rates_model, rate_column='rate_to_base') %}
with used as (
    select
        {{ column_name }} as currency_without_fx_rates,
        count(*) as rows_in_that_currency
    from {{ model }}
    where {{ column_name }} is not null
        and {{ column_name }} <> '{{ var("base_currency") }}'
    group by all
),

rated as (
    select distinct currency
    from {{ rates_model }}
    where {{ rate_column }} is not null
)

select used.*
from used
where currency_without_fx_rates not in (select currency from rated)
{% endtest %}

{#- Every non-null value of the column is in the list held by var `var_name` (e.g. the currencies
    configured in oms.yaml, which the flows pass as vars). A null var checks nothing: the list is
    not known (dbt run by hand without the flows' vars). Fails with each unexpected value and its
    row count. -#}
{% test in_var_list(model, column_name, var_name) %}
{%- set allowed = var(var_name, none) %}
with used as (
    select
        {{ column_name }} as unexpected_value,
        count(*) as rows_with_that_value
    from {{ model }}
    where {{ column_name }} is not null
    group by all
),

final as (
    select *
    from used
    {% if allowed is none -%}
    where false
    {%- else -%}
    where unexpected_value not in (
        {%- for value in allowed %}'{{ value }}'{{ ", " if not loop.last }}{% endfor -%}
    )
    {%- endif %}
)

select * from final
{% endtest %}

{#- The model has at least one row (an empty mart after a build usually means nothing landed). -#}
{% test has_rows(model) %}
with counted as (
    select count(*) as row_count
    from {{ model }}
),

final as (
    select *
    from counted
    where row_count = 0
)

select * from final
{% endtest %}

{#- Rows where the column exceeds an expression of the same row (e.g. units refunded > units sold). -#}
{% test at_most(model, column_name, expression, where_clause=none) %}
select *
from {{ model }}
where {{ column_name }} > {{ expression }}
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
