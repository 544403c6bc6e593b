-- One row per person resolved across channels, with lifetime metrics over full history (base
-- currency) and RFM scores. Recency is measured against the latest order date in the data.
with

people as (
    select * from {{ ref('int_customers_resolved') }}
),

orders as (
    select * from {{ ref('orders') }}
    where customer_key is not null and not is_cancelled
),

order_stats as (
    select
        customer_key,
        min(ordered_at) filter (where units > 0) as first_order_at,
        max(ordered_at) filter (where units > 0) as last_order_at,
        count(*) filter (where units > 0) as orders_count,
        coalesce(sum(gross_sales), 0) as lifetime_gross,
        coalesce(sum(discounts), 0) as lifetime_discounts,
        coalesce(sum(refunds), 0) as lifetime_refunds,
        coalesce(sum(net_sales), 0) as lifetime_net
    from orders
    group by all
),

as_of as (
    select max(order_date) as as_of_date from {{ ref('orders') }}
),

joined as (
    select
        p.customer_key,
        p.email,
        p.first_name,
        p.last_name,
        p.channels,
        p.country,
        case
            when p.country = 'GB' then 'UK'
            when p.country in (
                'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE',
                'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'
            ) then 'EU'
            when p.country in ('CH', 'NO', 'IS', 'LI') then 'Europe (non-EU)'
            when p.country in ('US', 'CA', 'MX') then 'North America'
            when p.country is null then null
            else 'Rest of world'
        end as region,
        s.first_order_at,
        s.last_order_at,
        coalesce(s.orders_count, 0) as orders_count,
        coalesce(s.lifetime_gross, 0) as lifetime_gross,
        coalesce(s.lifetime_discounts, 0) as lifetime_discounts,
        coalesce(s.lifetime_refunds, 0) as lifetime_refunds,
        coalesce(s.lifetime_net, 0) as lifetime_net,
        case when s.orders_count > 0 then cast(round(s.lifetime_net / s.orders_count, 4) as decimal(18, 4)) end
            as avg_order_value,
        coalesce(s.orders_count, 0) > 1 as is_repeat,
        case when s.last_order_at is not null
            then a.as_of_date - {{ business_date('s.last_order_at') }} end as days_since_last_order
    from people as p
    left join order_stats as s on p.customer_key = s.customer_key
    cross join as_of as a
),

scored as (
    select
        *,
        case when orders_count > 0 then ntile(5) over (
            partition by orders_count > 0 order by days_since_last_order desc, customer_key) end
            as recency_score,
        case when orders_count > 0 then ntile(5) over (
            partition by orders_count > 0 order by orders_count, customer_key) end
            as frequency_score,
        case when orders_count > 0 then ntile(5) over (
            partition by orders_count > 0 order by lifetime_net, customer_key) end
            as monetary_score
    from joined
),

final as (
    select
        *,
        case
            when orders_count = 0 then 'prospect'
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champion'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 4 and orders_count = 1 then 'new'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 then 'hibernating'
            else 'regular'
        end as segment
    from scored
)

select * from final
