-- One row per refunded line (returns and money-only refunds of a line), and one per refund not
-- tied to a line (is_order_level: no SKU, no units), dated when refunded.
-- Amounts in the base currency at the order's fx_rate.
with

refund_lines as (
    select * from {{ ref('int_refund_lines_unioned') }}
),

order_fx as (
    select * from {{ ref('int_order_fx_rates') }}
),

final as (
    select
        r.refund_line_key as return_key,
        r.refund_key,
        r.order_key,
        r.order_line_key,
        r.channel,
        r.sku,
        r.location_id,
        r.quantity,
        r.currency,
        coalesce(fx.fx_rate, r.standalone_fx_rate) as fx_rate,
        r.amount_local,
        {{ to_base('r.amount_local', 'coalesce(fx.fx_rate, r.standalone_fx_rate)') }} as amount,
        {{ to_base('r.tax_local', 'coalesce(fx.fx_rate, r.standalone_fx_rate)') }} as tax,
        r.refunded_at,
        r.refund_date,
        r.is_restocked as restocked,
        r.restock_location_id,
        r.ordered_at,
        r.order_date,
        r.refund_date - r.order_date as days_to_return,
        r.is_standalone,
        r.is_order_cancelled,
        r.is_order_level
    from refund_lines as r
    left join order_fx as fx on r.order_key = fx.order_key
)

select * from final
