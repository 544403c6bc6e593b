-- Discount codes by channel and month (of the order date): how often each code was used, by how
-- many customers, how many of them were new, what the orders were worth and how much came back.
-- A code's use is an order carrying it (int_discount_codes_unioned); cancelled orders count
-- nothing. Order-level figures (gross, refunds, net, units) are the orders' own, so an order
-- with two codes counts under both; `discounts` is the code's own part of the orders'
-- discounts, `order_discounts` all of them. Money in the base currency, at the order's rate.
with

codes as (
    select * from {{ ref('int_discount_codes_unioned') }}
),

orders as (
    select * from {{ ref('orders') }}
    where not is_cancelled
),

returned_units as (
    select
        order_key,
        sum(quantity_refunded) as units_returned
    from {{ ref('order_lines') }}
    group by all
),

uses as (
    select
        c.code,
        c.channel,
        cast(date_trunc('month', o.order_date) as date) as month,
        o.order_key,
        o.customer_key,
        o.is_first_order,
        o.gross_sales,
        {{ to_base('c.amount_local', 'o.fx_rate') }} as code_discount,
        o.discounts,
        o.refunds,
        o.net_sales,
        o.units,
        coalesce(r.units_returned, 0) as units_returned
    from codes as c
    inner join orders as o on c.order_key = o.order_key
    left join returned_units as r on c.order_key = r.order_key
),

final as (
    select
        code,
        channel,
        month,
        count(*) as orders,
        count(distinct customer_key) as customers,
        count(distinct customer_key) filter (where is_first_order) as new_customers,
        cast(round(
            count(distinct customer_key) filter (where is_first_order)
            / nullif(count(distinct customer_key), 0), 4
        ) as decimal(9, 4)) as new_customer_share,
        cast(sum(gross_sales) as decimal(18, 4)) as gross_sales,
        cast(sum(code_discount) as decimal(18, 4)) as discounts,
        cast(sum(discounts) as decimal(18, 4)) as order_discounts,
        cast(sum(refunds) as decimal(18, 4)) as refunds,
        cast(sum(net_sales) as decimal(18, 4)) as net_sales,
        cast(round(sum(net_sales) / count(*), 4) as decimal(18, 4)) as avg_order_value,
        cast(sum(units) as bigint) as units,
        cast(sum(units_returned) as bigint) as units_returned,
        cast(round(sum(units_returned) / nullif(sum(units), 0), 4) as decimal(9, 4)) as return_rate,
        count(*) filter (where units_returned > 0) as orders_with_returns
    from uses
    group by all
)

select * from final
