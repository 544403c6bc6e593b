-- One row per order across channels. Money in the base currency at the rate of the order's
-- business-tz date (fx_rate) unless suffixed `_local`. Cancelled orders keep their status and
-- placed total but contribute nothing to sales: their money columns are 0.
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

order_fx as (
    select * from {{ ref('int_order_fx_rates') }}
),

lines as (
    select
        order_key,
        sum(quantity) filter (where not is_cancelled) as units,
        sum(cogs) as cogs,
        count(*) filter (where cogs is null and not is_cancelled) as lines_without_cost
    from {{ ref('order_lines') }}
    group by all
),

refunds as (
    select order_key, sum(amount_local) as refunds_local, max(refunded_at) as last_refunded_at
    from {{ ref('int_refund_lines_unioned') }}
    group by all
),

fees as (
    select 'amazon:' || order_id as order_key, sum(fee_amount_local) as fees_local
    from {{ ref('stg_amazon__fees') }}
    group by all
),

joined as (
    select
        o.*,
        fx.fx_rate,
        fx.fx_rate_source,
        case when o.is_cancelled then 0 else coalesce(r.refunds_local, 0) end as refunds_local,
        case when o.is_cancelled then 0 else coalesce(f.fees_local, 0) end as marketplace_fees_local,
        r.last_refunded_at,
        coalesce(l.units, 0) as units,
        l.cogs,
        coalesce(l.lines_without_cost, 0) as lines_without_cost
    from orders as o
    left join order_fx as fx on o.order_key = fx.order_key
    left join refunds as r on o.order_key = r.order_key
    left join fees as f on o.order_key = f.order_key
    left join lines as l on o.order_key = l.order_key
),

amounts as (
    select
        *,
        case when is_cancelled then 0 else gross_local end as gross_sales_local,
        case when is_cancelled then 0 else discounts_local end as discounts_local_kept,
        case when is_cancelled then 0 else shipping_local end as shipping_local_kept,
        case when is_cancelled then 0 else taxes_local end as taxes_local_kept,
        case when is_cancelled then 0 else fees_local end as fees_local_kept
    from joined
),

converted as (
    select
        order_key,
        channel,
        order_id,
        order_number,
        customer_key,
        ordered_at,
        order_date,
        status,
        financial_status,
        fulfillment_status,
        is_cancelled,
        currency,
        fx_rate,
        fx_rate_source,
        taxes_included,
        {{ to_base('gross_sales_local', 'fx_rate') }} as gross_sales,
        {{ to_base('discounts_local_kept', 'fx_rate') }} as discounts,
        {{ to_base('shipping_local_kept', 'fx_rate') }} as shipping,
        {{ to_base('taxes_local_kept', 'fx_rate') }} as taxes,
        {{ to_base('refunds_local', 'fx_rate') }} as refunds,
        {{ to_base('gross_sales_local - discounts_local_kept - refunds_local', 'fx_rate') }} as net_sales,
        {{ to_base('marketplace_fees_local', 'fx_rate') }} as marketplace_fees,
        {{ to_base('fees_local_kept', 'fx_rate') }} as fees,
        cast(fees_local_kept as decimal(18, 4)) as fees_local,
        case when is_cancelled then cast(0 as decimal(18, 4)) when lines_without_cost = 0 then coalesce(cogs, 0) end as cogs,
        cast(gross_sales_local as decimal(18, 4)) as gross_sales_local,
        cast(gross_sales_local - discounts_local_kept - refunds_local as decimal(18, 4)) as net_sales_local,
        placed_total_local,
        last_refunded_at,
        units,
        ship_country,
        {{ region_of('ship_country') }} as ship_region,
        fulfillment_location_id
    from amounts
),

final as (
    select
        *,
        cast(net_sales - cogs as decimal(18, 4)) as gross_margin,
        case
            when not is_cancelled and customer_key is not null and units > 0
                then row_number() over (
                    partition by customer_key, (not is_cancelled and customer_key is not null and units > 0)
                    order by ordered_at, order_key
                )
        end as customer_order_seq
    from converted
)

select
    *,
    coalesce(customer_order_seq = 1, false) as is_first_order
from final
