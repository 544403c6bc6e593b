{{ config(materialized='table') }}
-- All channels' orders in one shape, amounts in the order's (local) currency.
-- status: open | partially_fulfilled | fulfilled | cancelled.
with

channels as (
    select * from {{ ref('stg_ops__channels') }}
),

aliases as (
    select * from {{ ref('stg_ops__location_aliases') }}
),

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

shop_customers as (
    select * from {{ ref('stg_shop__customers') }}
),

amazon_orders as (
    select * from {{ ref('stg_amazon__orders') }}
),

amazon_items as (
    select * from {{ ref('stg_amazon__order_items') }}
),

amazon_marketplaces as (
    select * from {{ ref('stg_amazon__marketplaces') }}
),

woo_orders as (
    select * from {{ ref('stg_woo__orders') }}
),

woo_lines as (
    select * from {{ ref('stg_woo__order_lines') }}
),

woo_customers as (
    select * from {{ ref('stg_woo__customers') }}
),

-- Woo fee lines (payment, handling fees) are part of the order total; other channels have none
woo_fees as (
    select order_id, sum(amount_local) as fees_local
    from {{ ref('stg_woo__order_fee_lines') }}
    group by all
),

till_lines as (
    select * from {{ ref('stg_tills__order_lines') }}
),

shop as (
    select
        'shop' as channel,
        o.order_id,
        o.order_number,
        o.ordered_at,
        o.currency,
        case
            when o.is_cancelled then 'cancelled'
            when o.fulfillment_status = 'fulfilled' then 'fulfilled'
            when o.fulfillment_status = 'partial' then 'partially_fulfilled'
            else 'open'
        end as status,
        o.financial_status,
        coalesce(o.fulfillment_status, 'unfulfilled') as fulfillment_status,
        o.is_cancelled,
        o.taxes_included,
        coalesce(o.email, c.email) as email,
        o.customer_id as channel_customer_id,
        coalesce(c.first_name, o.customer_first_name) as first_name,
        coalesce(c.last_name, o.customer_last_name) as last_name,
        o.ship_country,
        a.location_id as fulfillment_location_id,
        coalesce(o.total_line_items_price_local, 0) as gross_local,
        coalesce(o.total_discounts_local, 0) as discounts_local,
        coalesce(o.total_shipping_local, 0) as shipping_local,
        o.total_tax_local as taxes_local,
        o.total_price_local as placed_total_local
    from shop_orders as o
    left join shop_customers as c on o.customer_id = c.customer_id
    left join aliases as a
        on a.channel = 'shop' and a.external_id = o.fulfillment_external_location_id
),

amazon_totals as (
    select
        order_id,
        sum(gross_local) as gross_local,
        sum(discount_local) as discounts_local,
        sum(shipping_local) as shipping_local,
        sum(tax_local) as taxes_local,
        max(currency) as currency
    from amazon_items
    group by all
),

amazon as (
    select
        'amazon' as channel,
        o.order_id,
        o.order_id as order_number,
        o.ordered_at,
        -- a Pending order has no OrderTotal: its items' currency, else its marketplace's
        coalesce(o.currency, t.currency, m.currency) as currency,
        -- OrderStatus (Orders v0): InvoiceUnconfirmed = all items shipped, invoice not yet
        -- confirmed; Pending / PendingAvailability = payment not authorised; Unfulfillable =
        -- Amazon cannot fulfil it (no shipment, no charge), so it counts like a cancellation
        case
            when o.is_cancelled or o.order_status = 'Unfulfillable' then 'cancelled'
            when o.order_status in ('Shipped', 'InvoiceUnconfirmed') then 'fulfilled'
            when o.order_status = 'PartiallyShipped' then 'partially_fulfilled'
            else 'open'
        end as status,
        case
            when o.is_cancelled or o.order_status = 'Unfulfillable' then 'voided'
            when o.order_status in ('Pending', 'PendingAvailability') then 'pending'
            else 'paid'
        end as financial_status,
        case
            when o.order_status in ('Shipped', 'InvoiceUnconfirmed') then 'fulfilled'
            when o.order_status = 'PartiallyShipped' then 'partial'
            else 'unfulfilled'
        end as fulfillment_status,
        o.is_cancelled or o.order_status = 'Unfulfillable' as is_cancelled,
        -- the marketplace's convention: US/CA prices exclude sales tax (OrderTotal = ItemPrice +
        -- ItemTax), EU/UK and the rest include VAT (ItemTax is the included part)
        coalesce(m.prices_include_tax, true) as taxes_included,
        o.email,
        cast(null as varchar) as channel_customer_id,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        o.ship_country,
        cast(null as varchar) as fulfillment_location_id,
        coalesce(t.gross_local, 0) as gross_local,
        coalesce(t.discounts_local, 0) as discounts_local,
        coalesce(t.shipping_local, 0) as shipping_local,
        t.taxes_local,
        o.order_total_local as placed_total_local
    from amazon_orders as o
    left join amazon_totals as t on o.order_id = t.order_id
    left join amazon_marketplaces as m on o.marketplace_id = m.marketplace_id
),

woo_totals as (
    select
        order_id,
        sum(gross_local) as gross_local,
        sum(discount_local) as discounts_local
    from woo_lines
    group by all
),

woo as (
    select
        'woo' as channel,
        o.order_id,
        o.order_number,
        o.ordered_at,
        o.currency,
        case
            when o.is_cancelled then 'cancelled'
            when o.order_status in ('completed', 'refunded') then 'fulfilled'
            else 'open'
        end as status,
        case
            when o.is_cancelled then 'voided'
            when o.order_status in ('pending', 'on-hold') then 'pending'
            when o.order_status = 'refunded' then 'refunded'
            else 'paid'
        end as financial_status,
        case when o.order_status in ('completed', 'refunded') then 'fulfilled' else 'unfulfilled' end
            as fulfillment_status,
        o.is_cancelled,
        o.taxes_included,
        coalesce(o.email, c.email) as email,
        o.customer_id as channel_customer_id,
        coalesce(c.first_name, o.first_name) as first_name,
        coalesce(c.last_name, o.last_name) as last_name,
        o.ship_country,
        cast(null as varchar) as fulfillment_location_id,
        coalesce(t.gross_local, 0) as gross_local,
        coalesce(t.discounts_local, o.discount_total_local) as discounts_local,
        o.shipping_total_local as shipping_local,
        o.total_tax_local as taxes_local,
        o.total_local as placed_total_local,
        coalesce(fe.fees_local, 0) as fees_local
    from woo_orders as o
    left join woo_totals as t on o.order_id = t.order_id
    left join woo_fees as fe on o.order_id = fe.order_id
    left join woo_customers as c on o.customer_id = c.customer_id
),

-- A till document is an order when it is a sale (not a credit note) with at least one line that
-- is neither a stock write-off nor a finance adjustment (bad debt): credit notes are refunds
-- (int_refund_lines_unioned), write-offs inventory adjustments, adjustments finance lines.
till_orders as (
    select order_id
    from till_lines
    where not is_credit_note and not is_write_off and line_type <> 'adjustment'
    group by all
),

tills as (
    select
        'tills' as channel,
        l.order_id,
        l.order_id as order_number,
        min(l.ordered_at) as ordered_at,
        max(l.currency) as currency,
        case when bool_and(l.is_cancelled) then 'cancelled' else 'fulfilled' end as status,
        case when bool_and(l.is_cancelled) then 'voided' else 'paid' end as financial_status,
        'fulfilled' as fulfillment_status,
        bool_and(l.is_cancelled) as is_cancelled,
        -- store prices are gross of VAT; the export has no tax split
        true as taxes_included,
        max(l.email) as email,
        max(l.customer_id) as channel_customer_id,
        split_part(max(l.customer_name), ' ', 1) as first_name,
        nullif(trim(substr(max(l.customer_name), length(split_part(max(l.customer_name), ' ', 1)) + 1)), '')
            as last_name,
        cast(null as varchar) as ship_country,
        -- the customer's country as the export gives it (a shop sale ships nowhere)
        max(l.country) as customer_country,
        mode(l.location_id) as fulfillment_location_id,
        -- goods only: product lines sold (returns are refunds, write-offs stock adjustments)
        coalesce(sum(l.gross_local) filter (
            where l.line_type = 'product' and not l.is_return and not l.is_cancelled
        ), 0) as gross_local,
        -- line discounts of goods plus discount lines (their value is negative)
        coalesce(sum(l.discount_local) filter (
            where l.line_type = 'product' and not l.is_return and not l.is_cancelled
        ), 0) - coalesce(sum(l.signed_value_local) filter (
            where l.line_type = 'discount' and not l.is_cancelled
        ), 0) as discounts_local,
        coalesce(sum(l.signed_value_local) filter (
            where l.line_type = 'shipping' and not l.is_cancelled
        ), 0) as shipping_local,
        coalesce(sum(l.signed_value_local) filter (
            where l.line_type = 'fee' and not l.is_cancelled
        ), 0) as fees_local,
        -- till exports carry no tax split (prices are tax-inclusive)
        cast(null as decimal(18, 4)) as taxes_local,
        sum(l.signed_value_local) filter (
            where not l.is_cancelled and not l.is_write_off and l.line_type <> 'adjustment'
        ) as placed_total_local
    from till_lines as l
    inner join till_orders as d on l.order_id = d.order_id
    where not l.is_write_off and l.line_type <> 'adjustment'
    group by l.order_id
),

unioned as (
    select * from shop
    union all by name
    select * from amazon
    union all by name
    select * from woo
    union all by name
    select * from tills
),

final as (
    select
        u.channel || ':' || u.order_id as order_key,
        u.channel,
        u.order_id,
        u.order_number,
        u.ordered_at,
        {{ business_date('u.ordered_at') }} as order_date,
        coalesce(u.currency, ch.currency) as currency,
        u.status,
        u.financial_status,
        u.fulfillment_status,
        u.is_cancelled,
        u.taxes_included,
        u.email,
        u.channel_customer_id,
        {{ customer_key('u.channel', 'u.email', 'u.channel_customer_id') }} as customer_key,
        u.first_name,
        u.last_name,
        u.ship_country,
        -- the customer's country where the channel knows it apart from shipping (till exports)
        u.customer_country,
        coalesce(u.fulfillment_location_id, ch.default_location_id) as fulfillment_location_id,
        cast(u.gross_local as decimal(18, 4)) as gross_local,
        cast(u.discounts_local as decimal(18, 4)) as discounts_local,
        cast(u.shipping_local as decimal(18, 4)) as shipping_local,
        cast(u.taxes_local as decimal(18, 4)) as taxes_local,
        -- fees charged to the customer (Woo fee lines, before tax); 0 where a channel has none
        cast(coalesce(u.fees_local, 0) as decimal(18, 4)) as fees_local,
        cast(u.placed_total_local as decimal(18, 4)) as placed_total_local
    from unioned as u
    left join channels as ch on u.channel = ch.channel
)

select * from final
