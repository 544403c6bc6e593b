-- Amazon marketplace fees per financial event item (commission, FBA fees, and their reversals on
-- refunds). fee_amount_local is the cost to us: positive = fee charged, negative = fee refunded.
{{ config(materialized="view") }}

with

event_items as (
    select * from {{ ref('stg_amazon__financial_event_items') }}
),

final as (
    select
        event_id || ':' || order_item_id as fee_line_id,
        event_id,
        event_type,
        order_id,
        order_item_id,
        sku,
        posted_at,
        currency,
        cast(-fees_local as decimal(18, 4)) as fee_amount_local
    from event_items
)

select * from final
