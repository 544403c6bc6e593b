-- Current stock per SKU x location: the latest count, units committed to open orders, open
-- purchase-order quantity and the inventory position. Stock adjustments recorded after the
-- latest count (a till's write-offs, marts.inventory_adjustments) are applied to it: a count
-- already includes every adjustment made before it.
--
-- Bundles and kits (a SKU with a bill of materials, int_bundle_components) are assembled
-- when sold, never stocked: the units an open bundle order commits are committed on its
-- components, and the bundle has one row per location where any component has one, with
-- source 'bundle', nothing on hand, committed or on order of its own, and
-- available = min over components of floor(component available / quantity per bundle) (a
-- component without a row there counts as 0; never below 0); inventory_position likewise from
-- the components' positions. A bundle's own stock counts, if any, are not used.
with

bom as (
    select bundle_sku, component_sku, quantity
    from {{ ref('int_bundle_components') }}
),

latest_counts as (
    select
        sku,
        location_id,
        on_hand,
        counted_at
    from {{ ref('stg_tpl__stock') }}
    where sku is not null and location_id is not null
    qualify row_number() over (partition by sku, location_id order by counted_at desc) = 1
),

adjusted as (
    -- adjustments after the pair's latest count (counts include the ones before them; the rule
    -- inventory_snapshots applies per day, macros/stock_adjustments.sql)
    select sku, location_id, sum(quantity) as adjusted
    from ({{ adjustments_after_counts('latest_counts') }})
    group by all
),

open_lines as (
    -- unfulfilled units of open (not cancelled, not fully refunded) orders shipping from the location
    select
        sku,
        location_id,
        greatest(quantity - quantity_fulfilled - quantity_refunded, 0) as unfulfilled
    from {{ ref('order_lines') }} as l
    where not is_cancelled
        and order_key in (
            select order_key from {{ ref('orders') }}
            where status in ('open', 'partially_fulfilled')
        )
),

committed as (
    -- a bundle's unfulfilled units are its components' (x their quantity per bundle)
    select sku, location_id, sum(committed) as committed
    from (
        select sku, location_id, unfulfilled as committed
        from open_lines
        where sku not in (select bundle_sku from bom)
        union all
        select b.component_sku, l.location_id, l.unfulfilled * b.quantity
        from open_lines as l
        inner join bom as b on l.sku = b.bundle_sku
    )
    group by all
),

on_order as (
    select sku, location_id, sum(quantity_open) as on_order
    from {{ ref('int_open_purchase_orders') }}
    where status in ('open', 'partial')
    group by all
),

keys as (
    select sku, location_id from latest_counts
    where sku not in (select bundle_sku from bom)
    union
    select sku, location_id from committed where committed > 0
    union
    select sku, location_id from on_order where on_order > 0
),

stock_rows as (
    select
        keys.sku,
        keys.location_id,
        -- never below zero: a write-off of more than the count saw is a stale count, not debt
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} as integer) as on_hand,
        cast(coalesce(a.adjusted, 0) as integer) as adjusted_since_count,
        cast(coalesce(m.committed, 0) as integer) as committed,
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} - coalesce(m.committed, 0) as integer)
            as available,
        cast(coalesce(o.on_order, 0) as integer) as on_order,
        cast({{ adjusted_on_hand('coalesce(c.on_hand, 0)', 'a.adjusted') }} - coalesce(m.committed, 0)
            + coalesce(o.on_order, 0) as integer) as inventory_position,
        c.counted_at,
        case when c.sku is not null then 'stock_count' else 'no_count' end as source
    from keys
    left join latest_counts as c on keys.sku = c.sku and keys.location_id = c.location_id
    left join adjusted as a on keys.sku = a.sku and keys.location_id = a.location_id
    left join committed as m on keys.sku = m.sku and keys.location_id = m.location_id
    left join on_order as o on keys.sku = o.sku and keys.location_id = o.location_id
),

bundle_locations as (
    select distinct b.bundle_sku, s.location_id
    from bom as b
    inner join stock_rows as s on b.component_sku = s.sku
),

bundle_rows as (
    select
        bl.bundle_sku as sku,
        bl.location_id,
        0 as on_hand,
        0 as adjusted_since_count,
        0 as committed,
        cast(min(floor(greatest(coalesce(s.available, 0), 0) / b.quantity)) as integer) as available,
        0 as on_order,
        cast(min(floor(greatest(coalesce(s.inventory_position, 0), 0) / b.quantity)) as integer)
            as inventory_position,
        -- the oldest count of a component: the bundle's figure is no newer than that
        min(s.counted_at) as counted_at,
        'bundle' as source
    from bundle_locations as bl
    inner join bom as b on bl.bundle_sku = b.bundle_sku
    left join stock_rows as s on b.component_sku = s.sku and bl.location_id = s.location_id
    group by all
),

final as (
    select * from stock_rows
    union all by name
    select * from bundle_rows
)

select * from final
