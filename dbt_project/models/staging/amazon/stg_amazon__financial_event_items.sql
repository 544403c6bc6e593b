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

charges as (
    select
        events.event_id,
        events.item ->> 'OrderItemId' as order_item_id,
        sum(case when c.charge ->> 'ChargeType' = 'Principal'
            then {{ json_money('c.charge', '$.ChargeAmount.CurrencyAmount') }} end) as principal_local,
        sum(case when c.charge ->> 'ChargeType' in ('Tax', 'ShippingTax', 'GiftWrapTax')
            then {{ json_money('c.charge', '$.ChargeAmount.CurrencyAmount') }} end) as tax_local,
        sum(case when c.charge ->> 'ChargeType' in ('ShippingCharge')
            then {{ json_money('c.charge', '$.ChargeAmount.CurrencyAmount') }} end) as shipping_local,
        max(upper(c.charge ->> '$.ChargeAmount.CurrencyCode')) as currency
    from events,
        (select unnest({{ json_array('events.item', '$.ItemChargeList') }}) as charge) as c
    group by all
),

fees as (
    select
        events.event_id,
        events.item ->> 'OrderItemId' as order_item_id,
        sum({{ json_money('f.fee', '$.FeeAmount.CurrencyAmount') }}) as fees_local,
        max(upper(f.fee ->> '$.FeeAmount.CurrencyCode')) as currency
    from events,
        (select unnest({{ json_array('events.item', '$.ItemFeeList') }}) as fee) as f
    group by all
),

final as (
    select
        events.event_id,
        events.event_type,
        events.order_id,
        events.item ->> 'OrderItemId' as order_item_id,
        events.item ->> 'SellerSKU' as sku,
        coalesce({{ json_int('events.item', '$.QuantityShipped') }}, 0) as quantity,
        events.posted_at,
        events.marketplace_name,
        coalesce(charges.currency, fees.currency) as currency,
        coalesce(charges.principal_local, 0) as principal_local,
        coalesce(charges.tax_local, 0) as tax_local,
        coalesce(charges.shipping_local, 0) as shipping_local,
        coalesce(fees.fees_local, 0) as fees_local
    from events
    left join charges
        on events.event_id = charges.event_id
        and events.item ->> 'OrderItemId' = charges.order_item_id
    left join fees
        on events.event_id = fees.event_id
        and events.item ->> 'OrderItemId' = fees.order_item_id
)

select * from final
