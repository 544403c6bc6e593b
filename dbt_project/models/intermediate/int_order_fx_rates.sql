{{ config(materialized='table') }}
-- The FX rate of each order: its currency's rate on the order's business-tz date (carried forward
-- over gaps). Orders dated before the first rate of their currency take that first rate
-- ('backfilled'), orders after the end of the calendar the last one; no rates at all -> null.
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

fx as (
    select * from {{ ref('int_fx_rates_daily') }}
),

bounds as (
    select
        currency,
        min(rate_date) as first_date,
        arg_min(rate_to_base, rate_date) as first_rate,
        arg_max(rate_to_base, rate_date) as last_rate
    from fx
    group by all
),

final as (
    select
        o.order_key,
        o.currency,
        o.order_date,
        case
            when o.currency = '{{ var("base_currency") }}' then cast(1 as decimal(18, 8))
            when fx.rate_to_base is not null then fx.rate_to_base
            when o.order_date < b.first_date then b.first_rate
            else b.last_rate
        end as fx_rate,
        case
            when o.currency = '{{ var("base_currency") }}' then 'base'
            when fx.rate_to_base is not null and fx.is_carried_forward then 'carried_forward'
            when fx.rate_to_base is not null then 'published'
            when o.order_date < b.first_date then 'backfilled'
            when b.last_rate is not null then 'carried_forward'
            else 'missing'
        end as fx_rate_source
    from orders as o
    left join fx on fx.currency = o.currency and fx.rate_date = o.order_date
    left join bounds as b on b.currency = o.currency
)

select * from final
