{%- set order_shape = {
    'AmazonOrderId': 'VARCHAR',
    'FulfillmentChannel': 'VARCHAR',
    'ShipServiceLevel': 'VARCHAR',
    'ShipmentServiceLevelCategory': 'VARCHAR',
    'EarliestShipDate': 'VARCHAR',
    'LatestShipDate': 'VARCHAR',
    'EarliestDeliveryDate': 'VARCHAR',
    'LatestDeliveryDate': 'VARCHAR',
} -%}
-- The shipping promise of each Amazon order (Orders v0 Order). Amazon returns the ship and
-- delivery windows only for seller-fulfilled (MFN) orders; for Amazon-fulfilled (AFN / FBA)
-- orders they are null and the channel's ship-by SLA applies (fulfillment_ship_sla_hours).
with

source as (
    {{ latest_version(source('raw', 'amazon__orders')) }}
),

parsed as (
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', order_shape) }} as o
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        o.AmazonOrderId as order_id,
        o.FulfillmentChannel as fulfillment_channel,
        nullif(o.ShipServiceLevel, '') as ship_service_level,
        nullif(o.ShipmentServiceLevelCategory, '') as ship_service_level_category,
        {{ to_utc_ts('o.EarliestShipDate') }} as earliest_ship_at,
        {{ to_utc_ts('o.LatestShipDate') }} as latest_ship_at,
        {{ to_utc_ts('o.EarliestDeliveryDate') }} as earliest_delivery_at,
        {{ to_utc_ts('o.LatestDeliveryDate') }} as latest_delivery_at
    from parsed
)

select * from final
