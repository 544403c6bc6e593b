{{ config(materialized='table') }}
-- A rate for every day x currency from the first rate to the end date (var fx_end_date, default
-- today in the business time zone), carried forward over weekends, holidays and other gaps.
-- The base currency has rate 1 on every day.
with

rates as (
    select * from {{ ref('stg_files__fx_rates') }}
    where currency <> '{{ var("base_currency") }}' and rate_to_base is not null
),

bounds as (
    select
        {% if var('fx_end_date', none) %}
        cast('{{ var("fx_end_date") }}' as date)
        {% else %}
        cast(timezone('{{ var("business_timezone") }}', now()) as date)
        {% endif %} as end_date,
        min(rate_date) as first_rate_date
    from rates
),

currencies as (
    select currency, min(rate_date) as first_date from rates group by all
    union all
    select '{{ var("base_currency") }}', coalesce(first_rate_date, end_date) from bounds
),

spine as (
    select
        c.currency,
        cast(d.day as date) as rate_date
    from currencies as c
    cross join bounds as b
    cross join lateral (
        select unnest(generate_series(c.first_date, greatest(b.end_date, c.first_date), interval 1 day)) as day
    ) as d
),

carried as (
    select
        spine.currency,
        spine.rate_date,
        rates.rate_date as source_rate_date,
        rates.rate_to_base
    from spine
    asof left join rates
        on spine.currency = rates.currency
        and spine.rate_date >= rates.rate_date
),

final as (
    select
        rate_date,
        currency,
        case
            when currency = '{{ var("base_currency") }}' then cast(1 as decimal(18, 8))
            else rate_to_base
        end as rate_to_base,
        case when currency = '{{ var("base_currency") }}' then rate_date else source_rate_date end
            as source_rate_date,
        currency <> '{{ var("base_currency") }}' and source_rate_date < rate_date as is_carried_forward
    from carried
)

select * from final
