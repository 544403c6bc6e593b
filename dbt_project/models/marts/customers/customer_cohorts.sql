-- Acquisition cohorts: customers by the month of their first order (business time zone), and
-- what each cohort did in every month since, up to the latest month with orders (dense: a month
-- in which nobody of the cohort ordered is a row with 0). Orders are those customer metrics
-- count everywhere: non-cancelled, with units, of a known customer (orders.customer_order_seq).
-- Money is the base currency; net_sales books an order's refunds on the order (as marts.orders).
with

orders as (
    select
        customer_key,
        order_key,
        cast(date_trunc('month', order_date) as date) as order_month,
        net_sales,
        customer_order_seq
    from {{ ref('orders') }}
    where customer_order_seq is not null
),

first_orders as (
    select
        customer_key,
        order_month as cohort_month
    from orders
    where customer_order_seq = 1
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_orders
    group by all
),

as_of as (
    select max(order_month) as last_month from orders
),

periods as (
    -- every month from the cohort's first to the latest month with orders
    select
        c.cohort_month,
        c.cohort_size,
        cast(unnest(generate_series(0, datediff('month', c.cohort_month, a.last_month))) as integer)
            as months_since_first_order
    from cohort_sizes as c
    cross join as_of as a
),

activity as (
    select
        f.cohort_month,
        datediff('month', f.cohort_month, o.order_month) as months_since_first_order,
        count(distinct o.customer_key) as active_customers,
        count(*) as orders,
        sum(o.net_sales) as net_sales
    from orders as o
    inner join first_orders as f on o.customer_key = f.customer_key
    group by all
),

joined as (
    select
        p.cohort_month,
        p.months_since_first_order,
        cast(p.cohort_month + to_months(p.months_since_first_order) as date) as activity_month,
        p.cohort_size,
        coalesce(a.active_customers, 0) as active_customers,
        coalesce(a.orders, 0) as orders,
        cast(coalesce(a.net_sales, 0) as decimal(18, 4)) as net_sales
    from periods as p
    left join activity as a
        on p.cohort_month = a.cohort_month and p.months_since_first_order = a.months_since_first_order
),

final as (
    select
        cohort_month,
        months_since_first_order,
        activity_month,
        cohort_size,
        active_customers,
        orders,
        net_sales,
        cast(round(active_customers / cohort_size, 4) as decimal(9, 4)) as retention_rate,
        cast(sum(net_sales) over (
            partition by cohort_month order by months_since_first_order
        ) as decimal(18, 4)) as cumulative_net_sales,
        cast(round(sum(net_sales) over (
            partition by cohort_month order by months_since_first_order
        ) / cohort_size, 4) as decimal(18, 4)) as cumulative_net_per_customer
    from joined
)

select * from final
