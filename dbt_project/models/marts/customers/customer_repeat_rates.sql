-- Repeat-purchase rates by what a customer's first order was: its channel, its product category
-- (the category of its line with the largest net sales, ties by SKU; 'uncategorised' without one)
-- and whether any of its units were returned (refunded line quantity > 0, whenever it happened).
-- One row per combination; `customers` and `repeat_customers` add up, so any one dimension's
-- rate is sum(repeat_customers) / sum(customers) over the others. Orders as in customer_cohorts
-- (non-cancelled, with units, known customer); money in the base currency.
with

orders as (
    select
        customer_key,
        order_key,
        channel,
        ordered_at,
        order_date,
        net_sales,
        customer_order_seq
    from {{ ref('orders') }}
    where customer_order_seq is not null
),

lines as (
    select
        l.order_key,
        l.sku,
        l.net,
        l.quantity_refunded,
        p.category
    from {{ ref('order_lines') }} as l
    left join {{ ref('products') }} as p on l.sku = p.sku
),

first_orders as (
    select * from orders where customer_order_seq = 1
),

first_lines as (
    select
        f.order_key,
        arg_max(coalesce(l.category, 'uncategorised'), (l.net, l.sku)) filter (where l.sku is not null)
            as first_category,
        coalesce(sum(l.quantity_refunded), 0) > 0 as first_order_returned
    from first_orders as f
    left join lines as l on f.order_key = l.order_key
    group by all
),

second_orders as (
    select customer_key, order_date as second_order_date
    from orders
    where customer_order_seq = 2
),

customer_totals as (
    select
        customer_key,
        count(*) as orders,
        sum(net_sales) as net_sales
    from orders
    group by all
),

per_customer as (
    select
        f.customer_key,
        f.channel as first_channel,
        coalesce(fl.first_category, 'uncategorised') as first_category,
        coalesce(fl.first_order_returned, false) as first_order_returned,
        t.orders,
        t.net_sales,
        s.second_order_date - f.order_date as days_to_second_order
    from first_orders as f
    left join first_lines as fl on f.order_key = fl.order_key
    left join second_orders as s on f.customer_key = s.customer_key
    inner join customer_totals as t on f.customer_key = t.customer_key
),

final as (
    select
        first_channel,
        first_category,
        first_order_returned,
        count(*) as customers,
        count(*) filter (where orders > 1) as repeat_customers,
        cast(round(count(*) filter (where orders > 1) / count(*), 4) as decimal(9, 4)) as repeat_rate,
        cast(sum(orders) as bigint) as orders,
        cast(sum(net_sales) as decimal(18, 4)) as net_sales,
        cast(round(sum(net_sales) / count(*), 4) as decimal(18, 4)) as net_per_customer,
        cast(median(days_to_second_order) as decimal(9, 1)) as median_days_to_second_order
    from per_customer
    group by all
)

select * from final
