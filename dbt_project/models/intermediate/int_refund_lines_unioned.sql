{{ config(materialized='table') }}
-- All channels' refunded lines in one shape, amounts local (positive), dated when refunded.
-- Till returns (negative-quantity receipt lines) are refunds on their own receipt.
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_unioned') }}
),

aliases as (
    select * from {{ ref('stg_ops__location_aliases') }}
),

shop_refunds as (
    select * from {{ ref('stg_shop__refund_lines') }}
),

amazon_refunds as (
    select * from {{ ref('stg_amazon__refund_lines') }}
),

woo_refunds as (
    select * from {{ ref('stg_woo__refund_lines') }}
),

woo_refund_headers as (
    select * from {{ ref('stg_woo__refunds') }}
),

till_lines as (
    select * from {{ ref('stg_tills__order_lines') }}
),

fx_daily as (
    select * from {{ ref('int_fx_rates_daily') }}
),

-- Woo refund line items name the order line they refund in `_refunded_item_id`; a refund
-- without it (older stores, hand-made refunds) falls back to the order's first line of the sku
woo_lines as (
    select order_id, line_id, sku from {{ ref('stg_woo__order_lines') }}
),

woo_line_by_sku as (
    select order_id, sku, min(line_id) as line_id
    from woo_lines
    group by all
),

shop as (
    select
        'shop' as channel,
        r.order_id,
        r.refund_id,
        -- Shopify refund line ids are scoped by their refund here, so keys stay unique whatever
        -- the id scheme
        r.refund_id || ':' || r.refund_line_id as refund_line_id,
        r.line_id,
        r.sku,
        r.quantity,
        r.refunded_at,
        r.amount_local,
        r.tax_local,
        r.is_restocked,
        case when r.is_restocked then a.location_id end as restock_location_id
    from shop_refunds as r
    left join aliases as a
        on a.channel = 'shop' and a.external_id = r.restock_external_location_id
),

amazon as (
    select
        'amazon' as channel,
        order_id,
        refund_id,
        refund_line_id,
        order_item_id as line_id,
        sku,
        quantity,
        refunded_at,
        amount_local,
        tax_local,
        cast(null as boolean) as is_restocked,
        cast(null as varchar) as restock_location_id
    from amazon_refunds
),

woo as (
    select
        'woo' as channel,
        r.order_id,
        r.refund_id,
        r.refund_line_id,
        coalesce(by_id.line_id, by_sku.line_id) as line_id,
        coalesce(r.sku, by_id.sku) as sku,
        r.quantity,
        r.refunded_at,
        -- on the order's price basis, as its lines (stg_woo__order_lines): with tax when the
        -- order's prices include it
        r.amount_local + case when wo.taxes_included then r.tax_local else 0 end as amount_local,
        r.tax_local,
        cast(null as boolean) as is_restocked,
        cast(null as varchar) as restock_location_id
    from woo_refunds as r
    left join orders as wo on wo.channel = 'woo' and wo.order_id = r.order_id
    left join woo_lines as by_id on r.order_id = by_id.order_id and r.refunded_line_id = by_id.line_id
    left join woo_line_by_sku as by_sku
        on by_id.line_id is null and r.order_id = by_sku.order_id and r.sku = by_sku.sku
),

-- Order-level refunds: money refunded without naming a line (no SKU, no units, no order line;
-- is_order_level). Woo: a refund with an amount and no line items (the admin's "refund amount"
-- without items; refund 726 of Woo's published docs), counted whole. Another channel's refund
-- not tied to a line (a credit note) joins the union the same way.
woo_order_level as (
    select
        'woo' as channel,
        h.order_id,
        h.refund_id,
        h.refund_id || ':order' as refund_line_id,
        cast(null as varchar) as line_id,
        cast(null as varchar) as sku,
        0 as quantity,
        h.refunded_at,
        h.amount_local,
        cast(null as decimal(18, 4)) as tax_local,
        cast(null as boolean) as is_restocked,
        cast(null as varchar) as restock_location_id,
        true as is_order_level
    from woo_refund_headers as h
    where coalesce(h.amount_local, 0) <> 0
        and not exists (select 1 from woo_refunds as r where r.refund_id = h.refund_id)
),

-- Credit notes refund the till order they name (original_order_id) when we have it; one that
-- names none (or an order we do not have) is a standalone refund: dated and converted on its
-- own, in returns and sales but in no order. Their goods are returns; their discount and
-- gift-card lines money-only refunds (is_order_level); their postage, fee and adjustment lines
-- are finance adjustments (finance_monthly: postage is not in net sales, so neither is its
-- refund), their write-offs inventory adjustments.
till_credit_notes as (
    select l.*, o.order_id as refunded_order_id
    from till_lines as l
    left join orders as o on o.channel = 'tills' and o.order_id = l.original_order_id
    where l.is_credit_note and not l.is_cancelled and not l.is_write_off
        and (
            (l.line_type = 'product' and l.signed_quantity < 0)
            or (l.line_type in ('discount', 'gift_card') and l.signed_value_local < 0)
        )
),

tills as (
    -- returns on a sales receipt (negative product lines): refunds on their own receipt
    select
        'tills' as channel,
        order_id,
        order_id || ':' || line_id as refund_id,
        order_id || ':' || line_id as refund_line_id,
        cast(null as varchar) as line_id,
        sku,
        quantity,
        ordered_at as refunded_at,
        net_local as amount_local,
        cast(null as decimal(18, 4)) as tax_local,
        true as is_restocked,
        location_id as restock_location_id,
        false as is_order_level,
        false as is_standalone,
        currency as refund_currency
    from till_lines
    where is_return and not is_cancelled and not is_credit_note and not is_write_off
        and line_type = 'product'
    union all
    select
        'tills' as channel,
        coalesce(refunded_order_id, order_id) as order_id,
        order_id as refund_id,
        order_id || ':' || line_id as refund_line_id,
        cast(null as varchar) as line_id,
        case when line_type = 'product' then sku end as sku,
        case when line_type = 'product' then quantity else 0 end as quantity,
        ordered_at as refunded_at,
        -signed_value_local as amount_local,
        cast(null as decimal(18, 4)) as tax_local,
        case when line_type = 'product' then true end as is_restocked,
        case when line_type = 'product' then location_id end as restock_location_id,
        line_type <> 'product' as is_order_level,
        refunded_order_id is null as is_standalone,
        currency as refund_currency
    from till_credit_notes
),

unioned as (
    select * from shop
    union all by name
    select * from amazon
    union all by name
    select * from woo
    union all by name
    select * from woo_order_level
    union all by name
    select * from tills
),

final as (
    select
        u.channel || ':' || u.refund_line_id as refund_line_key,
        u.channel || ':' || u.refund_id as refund_key,
        o.order_key,
        ol.order_line_key,
        u.channel,
        u.order_id,
        coalesce(u.sku, ol.sku) as sku,
        coalesce(ol.location_id, u.restock_location_id, o.fulfillment_location_id) as location_id,
        cast(u.quantity as integer) as quantity,
        u.refunded_at,
        {{ business_date('u.refunded_at') }} as refund_date,
        o.ordered_at,
        o.order_date,
        coalesce(o.currency, u.refund_currency) as currency,
        coalesce(o.is_cancelled, false) as is_order_cancelled,
        -- a refund of no order we have (a standalone till credit note)
        coalesce(u.is_standalone, false) as is_standalone,
        -- its rate: the refund day's (orders' refunds convert at their order's rate)
        case
            when not coalesce(u.is_standalone, false) then null
            when coalesce(o.currency, u.refund_currency) = '{{ var("base_currency") }}'
                then cast(1 as decimal(18, 8))
            else fx.rate_to_base
        end as standalone_fx_rate,
        cast(u.amount_local as decimal(18, 4)) as amount_local,
        cast(u.tax_local as decimal(18, 4)) as tax_local,
        u.is_restocked,
        u.restock_location_id,
        coalesce(u.is_order_level, false) as is_order_level
    from unioned as u
    left join orders as o
        on o.channel = u.channel and o.order_id = u.order_id
    left join order_lines as ol
        on ol.order_key = o.order_key and ol.line_id = u.line_id
    left join fx_daily as fx
        on coalesce(u.is_standalone, false) and fx.currency = u.refund_currency
        and fx.rate_date = {{ business_date('u.refunded_at') }}
    where o.order_key is not null or coalesce(u.is_standalone, false)
)

select * from final
