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
