-- Sales per day x channel x location x category x ship country, base currency. Sales are dated by
-- order date, refunds by refund date (both business tz); cancelled orders are excluded. cogs is
-- the order lines' cost of the units kept, dated with the sale. Shipping and taxes are excluded.
with

lines as (
    select * from {{ ref('order_lines') }}
    where not is_cancelled
),

orders as (
    select order_key, ship_country from {{ ref('orders') }}
),

products as (
    select sku, category from {{ ref('products') }}
),

returns as (
    select * from {{ ref('returns') }}
    where not is_order_cancelled
),

sold_lines as (
    select
        l.order_date as sales_date,
        l.channel,
        coalesce(l.location_id, 'unknown') as location_id,
        coalesce(p.category, 'uncategorised') as category,
        coalesce(o.ship_country, 'unknown') as country,
        count(distinct l.order_key) as orders,
        sum(l.quantity) as units,
        sum(l.gross) as gross_sales,
        sum(l.discount) as discounts,
        sum(l.cogs) as cogs,
        count(*) filter (where l.cogs is null) as lines_without_cost
    from lines as l
    left join orders as o on l.order_key = o.order_key
    left join products as p on l.sku = p.sku
    group by all
),

order_level_discounts as (
    -- discounts on no line (till discount lines): the order's discount total less its lines'
    select
        o.order_date as sales_date,
        o.channel,
        coalesce(o.fulfillment_location_id, 'unknown') as location_id,
        'uncategorised' as category,
        coalesce(o.ship_country, 'unknown') as country,
        sum(o.discounts - coalesce(ld.discount, 0)) as discounts
    from {{ ref('orders') }} as o
    left join (select order_key, sum(discount) as discount from lines group by all) as ld
        on o.order_key = ld.order_key
    where o.channel = 'tills' and not o.is_cancelled
    group by all
    having sum(o.discounts - coalesce(ld.discount, 0)) <> 0
),

sold as (
    select
        sales_date, channel, location_id, category, country,
        sum(orders) as orders,
        sum(units) as units,
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(cogs) as cogs,
        sum(lines_without_cost) as lines_without_cost
    from (
        select * from sold_lines
        union all by name
        select *, 0 as orders, 0 as units, 0 as gross_sales, 0 as cogs, 0 as lines_without_cost
        from order_level_discounts
    )
    group by all
),

refunded as (
    select
        r.refund_date as sales_date,
        r.channel,
        coalesce(r.location_id, 'unknown') as location_id,
        coalesce(p.category, 'uncategorised') as category,
        coalesce(o.ship_country, 'unknown') as country,
        sum(r.quantity) as units_returned,
        sum(r.amount) as refunds
    from returns as r
    left join orders as o on r.order_key = o.order_key
    left join products as p on r.sku = p.sku
    group by all
),

final as (
    select
        coalesce(s.sales_date, r.sales_date) as sales_date,
        coalesce(s.channel, r.channel) as channel,
        coalesce(s.location_id, r.location_id) as location_id,
        coalesce(s.category, r.category) as category,
        coalesce(s.country, r.country) as country,
        coalesce({{ region_of("nullif(coalesce(s.country, r.country), 'unknown')") }}, 'Unknown') as region,
        cast(coalesce(s.orders, 0) as integer) as orders,
        cast(coalesce(s.units, 0) as integer) as units,
        cast(coalesce(r.units_returned, 0) as integer) as units_returned,
        cast(coalesce(s.gross_sales, 0) as decimal(18, 4)) as gross_sales,
        cast(coalesce(s.discounts, 0) as decimal(18, 4)) as discounts,
        cast(coalesce(r.refunds, 0) as decimal(18, 4)) as refunds,
        cast(coalesce(s.gross_sales, 0) - coalesce(s.discounts, 0) - coalesce(r.refunds, 0) as decimal(18, 4))
            as net_sales,
        -- null when a line of the cell has no supplier cost
        case when coalesce(s.lines_without_cost, 0) = 0 then cast(coalesce(s.cogs, 0) as decimal(18, 4)) end
            as cogs
    from sold as s
    full outer join refunded as r
        on s.sales_date = r.sales_date
        and s.channel = r.channel
        and s.location_id = r.location_id
        and s.category = r.category
        and s.country = r.country
)

select
    *,
    cast(net_sales - cogs as decimal(18, 4)) as gross_margin
from final
