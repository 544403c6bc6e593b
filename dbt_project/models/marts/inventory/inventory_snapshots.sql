{{ config(
    materialized='incremental',
    unique_key='stock_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
-- End-of-day on_hand per day x SKU x location (the last count of the day), from the pair's first
-- count to the latest count date of any pair, carried forward between counts.
-- Incremental by day: a run recomputes every day from the earliest count landed since the last
-- run (_stock_loaded_at is the watermark) to the end, for every pair, carrying each pair's state
-- (on_hand, last count, has_been_stocked) from the day before; earlier days cannot change, and
-- the days recomputed are replaced whole (delete+insert on stock_date), so the table equals a
-- full rebuild. Without new counts nothing is recomputed.
with

stock as (
    select * from {{ ref('stg_tpl__stock') }}
    where sku is not null and location_id is not null and count_date is not null
),

{% if is_incremental() %}
previous as (
    select max(stock_date) as end_date, max(_stock_loaded_at) as stock_loaded_at
    from {{ this }}
),

bounds as (
    -- the first day to recompute: the earliest count landed since the last run (or the day after
    -- the previous end, if the new counts skip days); null when nothing new landed
    select
        case when count(*) > 0 then least(min(s.count_date), any_value(p.end_date) + 1) end
            as from_date
    from stock as s
    cross join previous as p
    where s._max_loaded_at > coalesce(p.stock_loaded_at, cast('-infinity' as timestamptz))
),

carried_in as (
    -- each pair's state at the end of the day before from_date
    select
        t.sku,
        t.location_id,
        t.on_hand,
        t.last_count_date,
        t.last_counted_at,
        t.has_been_stocked,
        t._stock_loaded_at
    from {{ this }} as t
    cross join bounds as b
    where t.stock_date = b.from_date - 1
),
{% endif %}

counts as (
    -- the last count of each day
    select
        sku,
        location_id,
        count_date,
        arg_max(on_hand, counted_at) as on_hand,
        max(counted_at) as counted_at
    from stock
    {%- if is_incremental() %}
    where count_date >= (select from_date from bounds)
    {%- endif %}
    group by all
),

loaded_by_day as (
    -- latest landing of any count dated up to each day (the watermark of incremental runs)
    select
        count_date,
        max(max(_max_loaded_at)) over (order by count_date) as stock_loaded_at
    from stock
    {%- if is_incremental() %}
    where count_date >= (select from_date from bounds)
    {%- endif %}
    group by count_date
),

pairs as (
    select sku, location_id, min(count_date) as first_date
    from counts
    group by all
    {%- if is_incremental() %}
    union all by name
    select sku, location_id, (select from_date from bounds) as first_date
    from carried_in
    {%- endif %}
),

first_dates as (
    select sku, location_id, min(first_date) as first_date
    from pairs
    group by all
),

spine as (
    select
        p.sku,
        p.location_id,
        cast(d.day as date) as stock_date
    from first_dates as p
    cross join (select max(count_date) as end_date from counts) as b
    cross join lateral (
        select unnest(generate_series(p.first_date, b.end_date, interval 1 day)) as day
    ) as d
),

carried as (
    select
        spine.stock_date,
        spine.sku,
        spine.location_id,
        counts.count_date,
        counts.on_hand,
        counts.counted_at,
        loaded.stock_loaded_at
    from spine
    asof left join counts
        on spine.sku = counts.sku
        and spine.location_id = counts.location_id
        and spine.stock_date >= counts.count_date
    asof left join loaded_by_day as loaded
        on spine.stock_date >= loaded.count_date
),

{% if is_incremental() %}
with_state as (
    -- days without a count since from_date take the state carried in
    select
        c.stock_date,
        c.sku,
        c.location_id,
        case when c.count_date is null then i.on_hand else c.on_hand end as on_hand,
        coalesce(c.count_date, i.last_count_date) as last_count_date,
        case when c.count_date is null then i.last_counted_at else c.counted_at end as last_counted_at,
        coalesce(i.has_been_stocked, false) as had_been_stocked,
        greatest(c.stock_loaded_at, (select max(_stock_loaded_at) from carried_in)) as _stock_loaded_at
    from carried as c
    left join carried_in as i on c.sku = i.sku and c.location_id = i.location_id
),
{% else %}
with_state as (
    select
        stock_date,
        sku,
        location_id,
        on_hand,
        count_date as last_count_date,
        counted_at as last_counted_at,
        false as had_been_stocked,
        stock_loaded_at as _stock_loaded_at
    from carried
),
{% endif %}

final as (
    select
        stock_date,
        sku,
        location_id,
        on_hand,
        -- the pair has had stock on some day up to this one: zero stock before the SKU was ever
        -- stocked there (not launched / not carried) is not a stockout
        had_been_stocked or coalesce(max(on_hand) over (
            partition by sku, location_id order by stock_date rows between unbounded preceding and current row
        ) > 0, false) as has_been_stocked,
        last_count_date,
        last_counted_at,
        last_count_date < stock_date as is_carried_forward,
        _stock_loaded_at
    from with_state
)

select
    stock_date,
    sku,
    location_id,
    on_hand,
    on_hand <= 0 and has_been_stocked as is_stockout,
    has_been_stocked,
    last_count_date,
    is_carried_forward,
    last_counted_at,
    _stock_loaded_at
from final
