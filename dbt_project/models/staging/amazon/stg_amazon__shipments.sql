{%- set fee_shape = {
    'FeeType': 'VARCHAR',
    'FeeAmount': {'CurrencyAmount': 'VARCHAR', 'CurrencyCode': 'VARCHAR'},
} -%}
{%- set item_shape = {
    'OrderItemId': 'VARCHAR',
    'QuantityShipped': 'VARCHAR',
    'ItemFeeList': [fee_shape],
} -%}
{%- set event_shape = {
    'EventType': 'VARCHAR',
    'AmazonOrderId': 'VARCHAR',
    'PostedDate': 'VARCHAR',
    'ShipmentItemList': [item_shape],
} %}
-- One row per Amazon shipment: a Finances v0 Shipment event, posted when the goods shipped
-- (the Orders API has no ship time). Its items give lines and units; the FBA fulfilment fees
-- (FeeType FBAPerUnitFulfillmentFee, FBAPerOrderFulfillmentFee, FBAWeightBasedFee: negative as
-- posted) are what the shipment cost the merchant, returned positive.
with

source as (
    {{ latest_version(source('raw', 'amazon__financial_events')) }}
),

parsed as (
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', event_shape) }} as e
    from source
),

shipments as (
    select
        _source_id,
        _max_loaded_at,
        e.AmazonOrderId as order_id,
        {{ to_utc_ts('e.PostedDate') }} as shipped_at,
        coalesce(e.ShipmentItemList, []) as items,
        flatten(list_transform(coalesce(e.ShipmentItemList, []), lambda i: coalesce(i.ItemFeeList, [])))
            as fees
    from parsed
    where e.EventType = 'Shipment'
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as shipment_id,
        order_id,
        shipped_at,
        len(items) as lines,
        coalesce(list_sum(list_transform(items, lambda i: cast(i.QuantityShipped as integer))), 0)
            as units,
        list_max(list_transform(fees, lambda f: upper(f.FeeAmount.CurrencyCode))) as currency,
        -list_sum(list_transform(
            list_filter(fees, lambda f: f.FeeType in (
                'FBAPerUnitFulfillmentFee', 'FBAPerOrderFulfillmentFee', 'FBAWeightBasedFee'
            )),
            lambda f: {{ text_money('f.FeeAmount.CurrencyAmount') }}
        )) as fulfillment_fees_local
    from shipments
)

select * from final
