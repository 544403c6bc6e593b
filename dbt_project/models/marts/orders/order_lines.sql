-- One row per order line, money in the base currency at the order's fx_rate (unless `_local`).
with

lines as (
    select * from {{ ref('int_order_lines_unioned') }}
),

order_fx as (
    select * from {{ ref('int_order_fx_rates') }}
),

refunds as (
    select
        order_line_key,
        sum(quantity) as quantity_refunded,
        sum(amount_local) as refunded_local
    from {{ ref('int_refund_lines_unioned') }}
    where order_line_key is not null
    group by all
),

costs as (
    select * from {{ ref('int_sku_costs') }}
),

fx_daily as (
    select * from {{ ref('int_fx_rates_daily') }}
),

joined as (
    select
        l.*,
        fx.fx_rate,
        coalesce(r.quantity_refunded, 0) as quantity_refunded,
        coalesce(r.refunded_local, 0) as refunded_local,
        c.supplier_id,
        c.unit_cost_local,
        c.cost_currency,
        case
            when c.cost_currency = '{{ var("base_currency") }}' then cast(1 as decimal(18, 8))
            else cfx.rate_to_base
        end as cost_fx_rate
    from lines as l
    left join order_fx as fx on l.order_key = fx.order_key
    left join refunds as r on l.order_line_key = r.order_line_key
    left join costs as c on l.sku = c.sku
    left join fx_daily as cfx
        on cfx.currency = c.cost_currency and cfx.rate_date = l.order_date
),

final as (
    select
        order_line_key,
        order_key,
        channel,
        order_id,
        line_id,
        sku,
        location_id,
        customer_key,
        ordered_at,
        order_date,
        is_cancelled,
        quantity,
        quantity_refunded,
        quantity_fulfilled,
        currency,
        fx_rate,
        unit_price_local,
        gross_local,
        discount_local,
        net_local,
        {{ to_base('gross_local', 'fx_rate') }} as gross,
        {{ to_base('discount_local', 'fx_rate') }} as discount,
        {{ to_base('net_local', 'fx_rate') }} as net,
        {{ to_base('tax_local', 'fx_rate') }} as tax,
        {{ to_base('refunded_local', 'fx_rate') }} as refunded,
        supplier_id,
        {{ to_base('unit_cost_local', 'cost_fx_rate') }} as unit_cost,
        -- cost of the units kept: ordered minus refunded, none for cancelled lines
        case
            when is_cancelled then cast(0 as decimal(18, 4))
            else {{ to_base('unit_cost_local * greatest(quantity - quantity_refunded, 0)', 'cost_fx_rate') }}
        end as cogs
    from joined
)

select * from final
