-- Demand per day x SKU x location, dense (zero-demand days included) from the first activity of
-- the pair (sale, return or stock count) to the last day of data. Units ordered exclude cancelled
-- orders/lines; returns are dated when refunded (refunds of cancelled orders are excluded).
-- is_stockout comes from end-of-day stock counts: on_hand <= 0 after the pair has had stock
-- (null where the pair has no counts yet).
{%- set channels = var('channels') %}
with

lines as (
    select * from {{ ref('order_lines') }}
    where not is_cancelled and sku is not null
),

refund_lines as (
    select r.*, fx.fx_rate
    from {{ ref('int_refund_lines_unioned') }} as r
    left join {{ ref('int_order_fx_rates') }} as fx on r.order_key = fx.order_key
    where not r.is_order_cancelled and r.sku is not null
),

stock as (
    select * from {{ ref('int_stock_daily') }}
),

ordered as (
    select
        order_date as demand_date,
        sku,
        location_id,
        sum(quantity) as units_ordered,
        sum(net) as revenue,
        count(distinct order_key) as orders_count,
        {%- for ch in channels %}
        coalesce(sum(quantity) filter (where channel = '{{ ch }}'), 0) as units_{{ ch }},
        {%- endfor %}
    from lines
    group by all
),

returned as (
    select
        refund_date as demand_date,
        sku,
        location_id,
        sum(quantity) as units_returned,
        sum({{ to_base('amount_local', 'fx_rate') }}) as returned_amount
    from refund_lines
    group by all
),

activity as (
    select demand_date, sku, location_id from ordered
    union all
    select demand_date, sku, location_id from returned
    union all
    select stock_date, sku, location_id from stock
),

pairs as (
    select sku, location_id, min(demand_date) as first_date
    from activity
    group by all
),

spine as (
    select
        cast(d.day as date) as demand_date,
        p.sku,
        p.location_id
    from pairs as p
    cross join (select max(demand_date) as end_date from activity) as b
    cross join lateral (
        select unnest(generate_series(p.first_date, b.end_date, interval 1 day)) as day
    ) as d
),

final as (
    select
        spine.demand_date,
        spine.sku,
        spine.location_id,
        cast(coalesce(o.units_ordered, 0) as integer) as units_ordered,
        cast(coalesce(r.units_returned, 0) as integer) as units_returned,
        cast(coalesce(o.units_ordered, 0) - coalesce(r.units_returned, 0) as integer) as units_net,
        cast(coalesce(o.revenue, 0) as decimal(18, 4)) as revenue,
        cast(coalesce(r.returned_amount, 0) as decimal(18, 4)) as returned_amount,
        cast(coalesce(o.orders_count, 0) as integer) as orders_count,
        {%- for ch in channels %}
        cast(coalesce(o.units_{{ ch }}, 0) as integer) as units_{{ ch }},
        {%- endfor %}
        s.on_hand as end_of_day_on_hand,
        s.is_stockout
    from spine
    left join ordered as o
        on spine.demand_date = o.demand_date and spine.sku = o.sku and spine.location_id = o.location_id
    left join returned as r
        on spine.demand_date = r.demand_date and spine.sku = r.sku and spine.location_id = r.location_id
    left join stock as s
        on spine.demand_date = s.stock_date and spine.sku = s.sku and spine.location_id = s.location_id
)

select * from final
