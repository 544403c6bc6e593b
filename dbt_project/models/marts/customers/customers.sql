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
        p.tags,
        p.country,
        {{ region_of('p.country') }} as region,
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

aov_threshold as (
    -- "high average order value": the top 20 % of customers with orders (var high_aov_quantile)
    select quantile_cont(avg_order_value, {{ var('high_aov_quantile') }}) as high_aov_threshold
    from joined
    where orders_count > 0
),

scored as (
    -- RFM scores 1-5 from the percent rank among customers with orders; equal values share a score
    select
        j.*,
        case when j.orders_count > 0 then least(5, 1 + floor(5 * percent_rank() over (
            partition by j.orders_count > 0 order by j.days_since_last_order desc))) end
            as recency_score,
        case when j.orders_count > 0 then least(5, 1 + floor(5 * percent_rank() over (
            partition by j.orders_count > 0 order by j.orders_count))) end
            as frequency_score,
        case when j.orders_count > 0 then least(5, 1 + floor(5 * percent_rank() over (
            partition by j.orders_count > 0 order by j.lifetime_net))) end
            as monetary_score,
        j.orders_count = 1 as is_one_time_buyer,
        coalesce(j.orders_count > 0 and j.avg_order_value >= t.high_aov_threshold, false) as is_high_aov
    from joined as j
    cross join aov_threshold as t
),

segmented as (
    -- first matching rule wins (documented in _customers__models.yml)
    select
        *,
        case
            when orders_count = 0 then 'prospect'
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champion'
            when orders_count > 1 and recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when orders_count > 1 and recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when is_high_aov then 'high_aov'
            when orders_count = 1 and recency_score >= 4 then 'new'
            when orders_count = 1 then 'one_time'
            when recency_score <= 2 then 'hibernating'
            else 'regular'
        end as segment
    from scored
),

final as (
    select
        customer_key,
        email,
        first_name,
        last_name,
        channels,
        country,
        region,
        first_order_at,
        last_order_at,
        orders_count,
        lifetime_gross,
        lifetime_discounts,
        lifetime_refunds,
        lifetime_net,
        avg_order_value,
        is_repeat,
        days_since_last_order,
        cast(recency_score as integer) as recency_score,
        cast(frequency_score as integer) as frequency_score,
        cast(monetary_score as integer) as monetary_score,
        is_one_time_buyer,
        is_high_aov,
        segment,
        coalesce(region, 'Unknown') || ' / ' || segment as region_segment,
        tags
    from segmented
)

select * from final
