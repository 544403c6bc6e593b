-- One row per item of an Amazon financial event (Shipment: ShipmentItemList, Refund:
-- ShipmentItemAdjustmentList), with principal, tax and fees summed per item. Amounts keep the
-- signs Amazon posts (refund charges negative, fees negative, fee reversals positive).
-- CurrencyAmount is a JSON number: read as text and cast to decimal.
with

source as (
    {{ latest_version(source('raw', 'amazon__financial_events')) }}
),

events as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as event_id,
        _payload ->> 'EventType' as event_type,
        _payload ->> 'AmazonOrderId' as order_id,
        {{ to_utc_ts("_payload ->> 'PostedDate'") }} as posted_at,
        _payload ->> 'MarketplaceName' as marketplace_name,
        unnest(coalesce(
            {{ json_array('_payload', '$.ShipmentItemList') }},
            {{ json_array('_payload', '$.ShipmentItemAdjustmentList') }}
        )) as item
    from source
),

items as (
    select
        *,
        {{ json_array('item', '$.ItemChargeList') }} as charges,
        {{ json_array('item', '$.ItemFeeList') }} as fees
    from events
),

final as (
    select
        events._source_id,
        events._max_loaded_at,
        events.event_id,
        events.event_type,
        events.order_id,
        events.item ->> 'OrderItemId' as order_item_id,
        events.item ->> 'SellerSKU' as sku,
        coalesce({{ json_int('events.item', '$.QuantityShipped') }}, 0) as quantity,
        events.posted_at,
        events.marketplace_name,
        -- charges and fees summed per item with list functions (no lateral joins on the payload)
        coalesce(
            list_max(list_transform(events.charges, lambda c: upper(c ->> '$.ChargeAmount.CurrencyCode'))),
            list_max(list_transform(events.fees, lambda f: upper(f ->> '$.FeeAmount.CurrencyCode')))
        ) as currency,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c ->> 'ChargeType' = 'Principal'),
            lambda c: {{ json_money('c', '$.ChargeAmount.CurrencyAmount') }}
        )), 0) as principal_local,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c ->> 'ChargeType' in ('Tax', 'ShippingTax', 'GiftWrapTax')),
            lambda c: {{ json_money('c', '$.ChargeAmount.CurrencyAmount') }}
        )), 0) as tax_local,
        coalesce(list_sum(list_transform(
            list_filter(events.charges, lambda c: c ->> 'ChargeType' = 'ShippingCharge'),
            lambda c: {{ json_money('c', '$.ChargeAmount.CurrencyAmount') }}
        )), 0) as shipping_local,
        coalesce(list_sum(list_transform(
            events.fees, lambda f: {{ json_money('f', '$.FeeAmount.CurrencyAmount') }}
        )), 0) as fees_local
    from items as events
)

select * from final
