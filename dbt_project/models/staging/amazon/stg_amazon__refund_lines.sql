-- Amazon refunds: one row per item of a Refund, GuaranteeClaim or Chargeback financial event
-- (money given back to the buyer, from the items' ItemChargeAdjustmentList), dated by PostedDate.
{{ config(materialized="view") }}

with

event_items as (
    select * from {{ ref('stg_amazon__financial_event_items') }}
),

final as (
    select
        order_id,
        event_id as refund_id,
        event_id || ':' || order_item_id as refund_line_id,
        order_item_id,
        sku,
        abs(quantity) as quantity,
        posted_at as refunded_at,
        currency,
        -- refund charges are posted negative; the refunded amount is positive
        cast(-principal_local as decimal(18, 4)) as amount_local,
        cast(-tax_local as decimal(18, 4)) as tax_local
    from event_items
    where event_type in ('Refund', 'GuaranteeClaim', 'Chargeback')
)

select * from final
