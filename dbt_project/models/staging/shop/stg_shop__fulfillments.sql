{%- set order_shape = {
    'id': 'VARCHAR',
    'shipping_lines': [{'title': 'VARCHAR', 'code': 'VARCHAR'}],
    'fulfillments': [{
        'id': 'VARCHAR',
        'location_id': 'VARCHAR',
        'status': 'VARCHAR',
        'service': 'VARCHAR',
        'created_at': 'VARCHAR',
        'updated_at': 'VARCHAR',
        'tracking_company': 'VARCHAR',
        'tracking_number': 'VARCHAR',
        'shipment_status': 'VARCHAR',
        'delivered_at': 'VARCHAR',
        'estimated_delivery_at': 'VARCHAR',
        'line_items': [{'id': 'VARCHAR', 'quantity': 'VARCHAR'}],
    }],
} -%}
-- One row per Shopify fulfillment (a shipment), from the fulfillments inside the order payload.
-- A fulfillment is created when the goods leave (its created_at is the ship time). REST gives
-- the carrier (tracking_company), tracking number and shipment_status; the time of the last
-- status change is its updated_at, so a `delivered` fulfillment was delivered at updated_at.
-- The GraphQL connector adds deliveredAt / estimatedDeliveryAt as delivered_at /
-- estimated_delivery_at (docs/raw-contract.md); either shape is read.
with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', order_shape) }} as o
    from source
),

fulfillments as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        -- the shipping method the customer chose (Shopify's shipping line title, e.g. Standard)
        nullif(o.shipping_lines[1].title, '') as shipping_method,
        unnest(o.fulfillments) as f
    from parsed
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        -- Shopify's id; a record without one (hand-made files) is numbered within its order
        coalesce(
            f.id,
            '#' || cast(row_number() over (partition by order_id order by f.created_at) as varchar)
        ) as fulfillment_id,
        f.location_id as external_location_id,
        coalesce(f.status, 'success') as fulfillment_status,
        nullif(f.tracking_company, '') as carrier,
        shipping_method as service,
        nullif(f.tracking_number, '') as tracking_number,
        nullif(f.shipment_status, '') as shipment_status,
        {{ to_utc_ts('f.created_at') }} as shipped_at,
        coalesce(
            {{ to_utc_ts('f.delivered_at') }},
            case when f.shipment_status = 'delivered' then {{ to_utc_ts('f.updated_at') }} end
        ) as delivered_at,
        {{ to_utc_ts('f.estimated_delivery_at') }} as estimated_delivery_at,
        coalesce(len(f.line_items), 0) as lines,
        coalesce(list_sum(list_transform(f.line_items, lambda x: cast(x.quantity as integer))), 0)
            as units
    from fulfillments
)

select * from final
