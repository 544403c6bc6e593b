{{ config(
    materialized='incremental',
    unique_key=['demand_date', 'sku', 'location_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "{{ oms_reversible_delete('units_ordered is null') }}",
        "update {{ this }} set demand_source = 'direct' where demand_source is null",
    ],
) }}
-- Demand per day x SKU x location, dense (zero-demand days included) from the first activity of
-- the pair (sale, return or stock count) to the last day of data. Units ordered exclude cancelled
-- orders/lines; returns are dated when refunded (refunds of cancelled orders are excluded).
-- is_stockout comes from end-of-day stock counts: on_hand <= 0 after the pair has had stock
-- (null where the pair has no counts yet).
--
-- Incremental by cell. Sales and returns are re-aggregated from order_lines and the refund lines
-- in full (cheap), then compared with the table: a run recomputes only the cells whose sales or
-- returns differ, the days after the previous last day, the days from the earliest stock count
-- landed since the last run (_stock_loaded_at watermark), and the days a pair's first activity
-- moved over. Cells that fell out of the spine (a pair's only sale cancelled, ...) are written as
-- markers with a null units_ordered and deleted by the post-hook. The table equals a full rebuild.
--
-- Bundles and kits: a cell's row with demand_source 'direct' holds what was sold as the SKU
-- itself (a bundle's own sales too); the demand a bundle put on the SKU as one of its components
-- (int_bundle_components_exploded) is in one more row per bundle, demand_source 'bundle' and
-- bundle_sku set, with no revenue and no stock columns (those are the direct row's). A cell is
-- still the unit of an increment: its direct row and its bundle rows are written together.
{%- set channels = var('channels') %}
{%- set previous_has_sources = is_incremental() and 'demand_source' in (
    adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list) %}
with

lines as (
    select * from {{ ref('order_lines') }}
    where not is_cancelled and sku is not null
),

refund_lines as (
    select r.*, coalesce(fx.fx_rate, r.standalone_fx_rate) as fx_rate
    from {{ ref('int_refund_lines_unioned') }} as r
    left join {{ ref('int_order_fx_rates') }} as fx on r.order_key = fx.order_key
    where not r.is_order_cancelled and r.sku is not null
),

stock as (
    select * from {{ ref('inventory_snapshots') }}
),

bundle_lines as (
    select * from {{ ref('int_bundle_components_exploded') }}
    where not is_cancelled
),

bundle_cell_values as (
    -- the demand bundles put on their components, per component cell and bundle
    select
        demand_date,
        component_sku as sku,
        location_id,
        bundle_sku,
        cast(coalesce(sum(component_quantity) filter (where demand_kind = 'ordered'), 0) as integer)
            as units_ordered,
        cast(coalesce(sum(component_quantity) filter (where demand_kind = 'returned'), 0) as integer)
            as units_returned,
        cast(count(distinct order_key) filter (where demand_kind = 'ordered') as integer) as orders_count,
        {%- for ch in channels %}
        cast(coalesce(sum(component_quantity) filter (
            where demand_kind = 'ordered' and channel = '{{ ch }}'), 0) as integer) as units_{{ ch }},
        {%- endfor %}
    from bundle_lines
    group by all
),

ordered as (
    select
        order_date as demand_date,
        sku,
        location_id,
        sum(quantity) as units_ordered,
        sum(net) as revenue,
        count(distinct order_key) as orders_count,
        {%- for ch in channels %}
        coalesce(sum(quantity) filter (where channel = '{{ ch }}'), 0) as units_{{ ch }},
        {%- endfor %}
    from lines
    group by all
),

returned as (
    select
        refund_date as demand_date,
        sku,
        location_id,
        sum(quantity) as units_returned,
        sum({{ to_base('amount_local', 'fx_rate') }}) as returned_amount
    from refund_lines
    group by all
),

cell_values as (
    -- sales and returns of every cell that has any
    select
        coalesce(o.demand_date, r.demand_date) as demand_date,
        coalesce(o.sku, r.sku) as sku,
        coalesce(o.location_id, r.location_id) as location_id,
        cast(coalesce(o.units_ordered, 0) as integer) as units_ordered,
        cast(coalesce(r.units_returned, 0) as integer) as units_returned,
        cast(coalesce(o.revenue, 0) as decimal(18, 4)) as revenue,
        cast(coalesce(r.returned_amount, 0) as decimal(18, 4)) as returned_amount,
        cast(coalesce(o.orders_count, 0) as integer) as orders_count,
        {%- for ch in channels %}
        cast(coalesce(o.units_{{ ch }}, 0) as integer) as units_{{ ch }},
        {%- endfor %}
    from ordered as o
    full outer join returned as r
        on o.demand_date = r.demand_date and o.sku = r.sku and o.location_id = r.location_id
),

activity as (
    select demand_date, sku, location_id from cell_values
    union all
    select demand_date, sku, location_id from bundle_cell_values
    union all
    select stock_date, sku, location_id from stock
),

pairs as (
    select sku, location_id, min(demand_date) as first_date
    from activity
    group by all
),

bounds as (
    select max(demand_date) as end_date from activity
),

{% if is_incremental() %}
previous as (
    select max(demand_date) as end_date, max(_stock_loaded_at) as stock_loaded_at
    from {{ this }}
),

previous_pairs as (
    select sku, location_id, min(demand_date) as first_date
    from {{ this }}
    group by all
),

stock_changed as (
    -- the first day with a stock count landed since the last run
    select min(stock_date) as from_date
    from stock
    where _stock_loaded_at > coalesce(
        (select stock_loaded_at from previous), cast('-infinity' as timestamptz)
    )
),

previous_values as (
    select demand_date, sku, location_id, units_ordered, units_returned, revenue, returned_amount, orders_count,
        {%- for ch in channels %}
        units_{{ ch }},
        {%- endfor %}
    from {{ this }}
    where (orders_count <> 0 or units_ordered <> 0 or units_returned <> 0 or revenue <> 0 or returned_amount <> 0
        {%- for ch in channels %}
        or units_{{ ch }} <> 0
        {%- endfor %})
        {%- if previous_has_sources %}
        and coalesce(demand_source, 'direct') = 'direct'
        {%- endif %}
),

previous_bundle_values as (
    {%- if previous_has_sources %}
    select demand_date, sku, location_id, bundle_sku, units_ordered, units_returned, orders_count,
        {%- for ch in channels %}
        units_{{ ch }},
        {%- endfor %}
    from {{ this }}
    where demand_source = 'bundle'
    {%- else %}
    -- the table predates bundle rows: it has none
    select * from bundle_cell_values where false
    {%- endif %}
),

changed_cells as (
    select coalesce(n.demand_date, p.demand_date) as demand_date, coalesce(n.sku, p.sku) as sku,
        coalesce(n.location_id, p.location_id) as location_id
    from cell_values as n
    full outer join previous_values as p
        on n.demand_date = p.demand_date and n.sku = p.sku and n.location_id = p.location_id
    where n.demand_date is null or p.demand_date is null
        or (n.units_ordered, n.units_returned, n.revenue, n.returned_amount, n.orders_count
            {%- for ch in channels %}, n.units_{{ ch }}{% endfor %})
        is distinct from (p.units_ordered, p.units_returned, p.revenue, p.returned_amount, p.orders_count
            {%- for ch in channels %}, p.units_{{ ch }}{% endfor %})
    union all
    -- cells whose bundle-driven demand changed (a bundle sold or returned, a BOM edited)
    select coalesce(n.demand_date, p.demand_date), coalesce(n.sku, p.sku),
        coalesce(n.location_id, p.location_id)
    from bundle_cell_values as n
    full outer join previous_bundle_values as p
        on n.demand_date = p.demand_date and n.sku = p.sku and n.location_id = p.location_id
        and n.bundle_sku = p.bundle_sku
    where n.demand_date is null or p.demand_date is null
        or (n.units_ordered, n.units_returned, n.orders_count
            {%- for ch in channels %}, n.units_{{ ch }}{% endfor %})
        is distinct from (p.units_ordered, p.units_returned, p.orders_count
            {%- for ch in channels %}, p.units_{{ ch }}{% endfor %})
),

ranges as (
    -- day ranges per pair to recompute (is_removed = false) or to delete (true)
    select p.sku, p.location_id, p.first_date as from_date, b.end_date as to_date, false as is_removed
    from pairs as p
    cross join bounds as b
    left join previous_pairs as pp on p.sku = pp.sku and p.location_id = pp.location_id
    where pp.sku is null
    union all
    -- days before the previous first activity, after the previous last day, from the stock change
    select p.sku, p.location_id, p.first_date, pp.first_date - 1, false
    from pairs as p
    inner join previous_pairs as pp on p.sku = pp.sku and p.location_id = pp.location_id
    union all
    select p.sku, p.location_id, greatest(p.first_date, pr.end_date + 1), b.end_date, false
    from pairs as p
    cross join bounds as b
    cross join previous as pr
    union all
    select p.sku, p.location_id, greatest(p.first_date, sc.from_date), b.end_date, false
    from pairs as p
    cross join bounds as b
    cross join stock_changed as sc
    where sc.from_date is not null
    union all
    -- cells of the previous table outside the new spine
    select pp.sku, pp.location_id, pp.first_date, pr.end_date, true
    from previous_pairs as pp
    cross join previous as pr
    left join pairs as p on p.sku = pp.sku and p.location_id = pp.location_id
    where p.sku is null
    union all
    select pp.sku, pp.location_id, pp.first_date, p.first_date - 1, true
    from previous_pairs as pp
    inner join pairs as p on p.sku = pp.sku and p.location_id = pp.location_id
    union all
    select pp.sku, pp.location_id, b.end_date + 1, pr.end_date, true
    from previous_pairs as pp
    cross join previous as pr
    cross join bounds as b
    inner join pairs as p on p.sku = pp.sku and p.location_id = pp.location_id
),

range_cells as (
    select
        cast(unnest(generate_series(from_date, to_date, interval 1 day)) as date) as demand_date,
        sku,
        location_id,
        is_removed
    from ranges
    where from_date <= to_date
),

spine as (
    select distinct demand_date, sku, location_id, is_removed
    from (
        select * from range_cells
        union all
        select c.demand_date, c.sku, c.location_id, false as is_removed
        from changed_cells as c
        inner join pairs as p on c.sku = p.sku and c.location_id = p.location_id
        cross join bounds as b
        where c.demand_date between p.first_date and b.end_date
    )
),

cells as (
    select
        spine.*,
        s.on_hand,
        s.is_stockout,
        s._stock_loaded_at
    from spine
    left join stock as s
        on spine.demand_date = s.stock_date and spine.sku = s.sku and spine.location_id = s.location_id
),
{% else %}
stock_ranges as (
    -- stock rows are dense from the pair's first count to the last count date (inventory_snapshots)
    select sku, location_id, min(stock_date) as first_stock_date, max(stock_date) as last_stock_date
    from stock
    group by all
),

other_ranges as (
    -- the spine days of each pair without a stock row: before its first count, after the last
    -- count date, or all of them for a pair without counts
    select p.sku, p.location_id, p.first_date as from_date,
        coalesce(r.first_stock_date - 1, b.end_date) as to_date
    from pairs as p
    cross join bounds as b
    left join stock_ranges as r on p.sku = r.sku and p.location_id = r.location_id
    union all
    select r.sku, r.location_id, r.last_stock_date + 1, b.end_date
    from stock_ranges as r
    cross join bounds as b
),

cells as (
    -- the spine with its stock: the stock rows themselves plus the days without one (no join of
    -- every day to the stock table)
    select
        stock_date as demand_date,
        sku,
        location_id,
        false as is_removed,
        on_hand,
        is_stockout,
        _stock_loaded_at
    from stock
    union all
    select
        cast(unnest(generate_series(from_date, to_date, interval 1 day)) as date),
        sku,
        location_id,
        false,
        cast(null as integer),
        cast(null as boolean),
        cast(null as timestamptz)
    from other_ranges
    where from_date <= to_date
),
{% endif %}

direct_rows as (
    select
        c.demand_date,
        c.sku,
        c.location_id,
        -- null marks a cell to delete (incremental runs only; see the post-hook)
        case when not c.is_removed then coalesce(v.units_ordered, 0) end as units_ordered,
        coalesce(v.units_returned, 0) as units_returned,
        cast(coalesce(v.units_ordered, 0) - coalesce(v.units_returned, 0) as integer) as units_net,
        coalesce(v.revenue, cast(0 as decimal(18, 4))) as revenue,
        coalesce(v.returned_amount, cast(0 as decimal(18, 4))) as returned_amount,
        coalesce(v.orders_count, 0) as orders_count,
        {%- for ch in channels %}
        coalesce(v.units_{{ ch }}, 0) as units_{{ ch }},
        {%- endfor %}
        c.on_hand as end_of_day_on_hand,
        c.is_stockout,
        c._stock_loaded_at,
        'direct' as demand_source,
        cast(null as varchar) as bundle_sku
    from cells as c
    left join cell_values as v
        on c.demand_date = v.demand_date and c.sku = v.sku and c.location_id = v.location_id
),

bundle_rows as (
    -- the cell's component demand from each bundle (the cell's stock is on its direct row)
    select
        c.demand_date,
        c.sku,
        c.location_id,
        b.units_ordered,
        b.units_returned,
        cast(b.units_ordered - b.units_returned as integer) as units_net,
        cast(0 as decimal(18, 4)) as revenue,
        cast(0 as decimal(18, 4)) as returned_amount,
        b.orders_count,
        {%- for ch in channels %}
        b.units_{{ ch }},
        {%- endfor %}
        cast(null as integer) as end_of_day_on_hand,
        cast(null as boolean) as is_stockout,
        cast(null as timestamptz) as _stock_loaded_at,
        'bundle' as demand_source,
        b.bundle_sku
    from cells as c
    inner join bundle_cell_values as b
        on c.demand_date = b.demand_date and c.sku = b.sku and c.location_id = b.location_id
    where not c.is_removed
),

final as (
    select * from direct_rows
    union all by name
    select * from bundle_rows
)

select * from final
