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
-- full rebuild. Without new counts nothing is recomputed. (A count's id holds its location, SKU and
-- count time (raw-contract.md), so a new version of a count never moves it to another day or pair.)
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
    select sku, location_id, count_date, on_hand, counted_at, _max_loaded_at
    from stock
    {%- if is_incremental() %}
    where count_date >= (select from_date from bounds)
    {%- endif %}
),

end_date as (
    select max(count_date) as end_date from counts
),

day_counts as (
    -- every count, valid from its day on
    select
        sku,
        location_id,
        count_date as valid_from,
        count_date as last_count_date,
        counted_at,
        on_hand
    from counts
    {%- if is_incremental() %}
    union all
    -- the state carried in counts as a count valid from from_date (it sorts before that day's counts)
    select sku, location_id, (select from_date from bounds), last_count_date, last_counted_at, on_hand
    from carried_in
    {%- endif %}
),

intervals as (
    -- the last count of each day, valid until the day before the next day with a count (one sort,
    -- no day x pair spine joined to the counts)
    select
        *,
        lead(valid_from) over (partition by sku, location_id order by counted_at) as next_valid_from
    from day_counts
    qualify next_valid_from is distinct from valid_from
),

loaded_by_day as (
    -- latest landing of any count dated up to each day (the watermark of incremental runs)
    select
        cast(d.day as date) as stock_date,
        max(max(c._max_loaded_at)) over (order by d.day) as stock_loaded_at
    from (
        select unnest(generate_series(
            (select min(valid_from) from day_counts), (select end_date from end_date), interval 1 day
        )) as day
    ) as d
    left join counts as c on c.count_date = cast(d.day as date)
    group by d.day
),

days as (
    select
        i.sku,
        i.location_id,
        cast(unnest(generate_series(
            i.valid_from, coalesce(i.next_valid_from - 1, e.end_date), interval 1 day
        )) as date) as stock_date,
        i.on_hand,
        i.last_count_date,
        i.counted_at as last_counted_at
    from intervals as i
    cross join end_date as e
),

first_stocked as (
    -- the first day the pair had stock (an aggregate, cheaper than a running max over every day)
    select sku, location_id, min(valid_from) as first_stocked_date
    from intervals
    where on_hand > 0
    group by all
),

final as (
    select
        d.stock_date,
        d.sku,
        d.location_id,
        d.on_hand,
        -- the pair has had stock on some day up to this one: zero stock before the SKU was ever
        -- stocked there (not launched / not carried) is not a stockout
        {%- if is_incremental() %}
        coalesce(i.has_been_stocked, false) or
        {%- endif %}
        coalesce(d.stock_date >= f.first_stocked_date, false) as has_been_stocked,
        d.last_count_date,
        d.last_counted_at,
        d.last_count_date < d.stock_date as is_carried_forward,
        {%- if is_incremental() %}
        greatest(l.stock_loaded_at, (select max(_stock_loaded_at) from carried_in)) as _stock_loaded_at
        {%- else %}
        l.stock_loaded_at as _stock_loaded_at
        {%- endif %}
    from days as d
    left join first_stocked as f on d.sku = f.sku and d.location_id = f.location_id
    left join loaded_by_day as l on d.stock_date = l.stock_date
    {%- if is_incremental() %}
    left join carried_in as i on d.sku = i.sku and d.location_id = i.location_id
    {%- endif %}
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
