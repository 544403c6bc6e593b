-- One row per item of an Amazon financial event (Shipment: ShipmentItemList; Refund,
-- GuaranteeClaim, Chargeback: ShipmentItemAdjustmentList), with principal, tax and fees summed
-- per item. Finances v0 puts a shipment item's money in ItemChargeList / ItemFeeList and a
-- refund's (guarantee claim's, chargeback's) in ItemChargeAdjustmentList / ItemFeeAdjustmentList
-- ("only returned for refunds, guarantee claims, and chargeback events"); both pairs are read
-- and concatenated, so either shape counts and nothing is read twice. Amounts keep the signs
-- Amazon posts (refund charges negative, fees negative, a returned commission positive, the
-- refund commission negative). CurrencyAmount is a JSON number: read as text, cast to decimal.
{% set charge_shape = {
    'ChargeType': 'VARCHAR',
    'ChargeAmount': {'CurrencyAmount': 'VARCHAR', 'CurrencyCode': 'VARCHAR'},
} -%}
{%- set fee_shape = {
    'FeeType': 'VARCHAR',
    'FeeAmount': {'CurrencyAmount': 'VARCHAR', 'CurrencyCode': 'VARCHAR'},
} -%}
{%- set item_shape = {
    'OrderItemId': 'VARCHAR',
    'SellerSKU': 'VARCHAR',
    'QuantityShipped': 'VARCHAR',
    'ItemChargeList': [charge_shape],
    'ItemChargeAdjustmentList': [charge_shape],
    'ItemFeeList': [fee_shape],
    'ItemFeeAdjustmentList': [fee_shape],
} -%}
{%- set event_shape = {
    'EventType': 'VARCHAR',
    'AmazonOrderId': 'VARCHAR',
    'PostedDate': 'VARCHAR',
    'MarketplaceName': 'VARCHAR',
    'ShipmentItemList': [item_shape],
    'ShipmentItemAdjustmentList': [item_shape],
} %}
with

source as (
    {{ latest_version(source('raw', 'amazon__financial_events')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', event_shape) }} as e
    from source
),

events as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as event_id,
        e.EventType as event_type,
        e.AmazonOrderId as order_id,
        {{ to_utc_ts('e.PostedDate') }} as posted_at,
        e.MarketplaceName as marketplace_name,
        unnest(list_concat(
            coalesce(e.ShipmentItemList, []), coalesce(e.ShipmentItemAdjustmentList, [])
        )) as item
    from parsed
),

items as (
    select
        *,
        list_concat(
            coalesce(item.ItemChargeList, []), coalesce(item.ItemChargeAdjustmentList, [])
        ) as charges,
        list_concat(coalesce(item.ItemFeeList, []), coalesce(item.ItemFeeAdjustmentList, [])) as fees
    from events
),

final as (
    select
        events._source_id,
        events._max_loaded_at,
        events.event_id,
        events.event_type,
        events.order_id,
        events.item.OrderItemId as order_item_id,
        events.item.SellerSKU as sku,
        coalesce({{ text_int('events.item.QuantityShipped') }}, 0) as quantity,
        events.posted_at,
        events.marketplace_name,
        -- charges and fees summed per item with list functions (no lateral joins on the payload)
        coalesce(
            list_max(list_transform(events.charges, lambda c: upper(c.ChargeAmount.CurrencyCode))),
            list_max(list_transform(events.fees, lambda f: upper(f.FeeAmount.CurrencyCode)))
        ) as currency,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c.ChargeType = 'Principal'),
            lambda c: {{ text_money('c.ChargeAmount.CurrencyAmount') }}
        )), 0) as principal_local,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c.ChargeType in ('Tax', 'ShippingTax', 'GiftWrapTax')),
            lambda c: {{ text_money('c.ChargeAmount.CurrencyAmount') }}
        )), 0) as tax_local,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c.ChargeType = 'ShippingCharge'),
            lambda c: {{ text_money('c.ChargeAmount.CurrencyAmount') }}
        )), 0) as shipping_local,
        coalesce(list_sum(list_transform(
            events.fees, lambda f: {{ text_money('f.FeeAmount.CurrencyAmount') }}
        )), 0) as fees_local
    from items as events
)

select * from final
