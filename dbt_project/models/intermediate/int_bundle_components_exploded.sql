-- Bundle (and kit) sales and returns as the units of their components they take or bring back:
-- every sold or refunded line of a bundle SKU, once per component of its bill of materials, with
-- component units = bundle units x the component's quantity per bundle. The bundle's own line is
-- untouched (order_lines, daily_demand keep it); this is the demand it puts on its components,
-- for forecasting and replenishment. A bundle without a BOM row explodes into nothing.
with

bom as (
    select bundle_sku, component_sku, quantity as quantity_per_bundle
    from {{ ref('int_bundle_components') }}
),

sold as (
    select
        'ordered' as demand_kind,
        order_line_key as line_key,
        order_key,
        channel,
        sku as bundle_sku,
        location_id,
        order_date as demand_date,
        is_cancelled,
        quantity as bundle_quantity
    from {{ ref('int_order_lines_unioned') }}
    where sku in (select bundle_sku from bom)
),

returned as (
    select
        'returned' as demand_kind,
        refund_line_key as line_key,
        order_key,
        channel,
        sku as bundle_sku,
        location_id,
        refund_date as demand_date,
        is_order_cancelled as is_cancelled,
        quantity as bundle_quantity
    from {{ ref('int_refund_lines_unioned') }}
    where sku in (select bundle_sku from bom)
),

lines as (
    select * from sold
    union all
    select * from returned
),

final as (
    select
        l.demand_kind,
        l.line_key,
        l.order_key,
        l.channel,
        l.bundle_sku,
        b.component_sku,
        l.location_id,
        l.demand_date,
        l.is_cancelled,
        l.bundle_quantity,
        b.quantity_per_bundle,
        cast(l.bundle_quantity * b.quantity_per_bundle as integer) as component_quantity
    from lines as l
    inner join bom as b on l.bundle_sku = b.bundle_sku
)

select * from final
