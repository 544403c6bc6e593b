{{ config(
    materialized='incremental',
    unique_key='stock_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}
-- End-of-day on_hand per day x SKU x location, from the pair's first count to the latest count
-- date of any pair: the day's last count (carried forward between counts) plus the stock
-- adjustments (marts.inventory_adjustments: write-offs) made after that count and dated up to the
-- day, never below 0 (the rule inventory_levels applies to the latest count,
-- macros/stock_adjustments.sql). An adjustment affects the days from its date (business tz; not
-- before its count's day) until the pair's next count, which includes it.
-- Incremental by day: a run recomputes every day from the earliest count or adjustment (or
-- voided write-off) landed since the last run (_stock_loaded_at is the watermark) to the end, for every pair, carrying
-- each pair's state (counted on_hand, last count, has_been_stocked) from the day before; the
-- adjustments are summed afresh from the count they follow. Earlier days cannot change, and
-- the days recomputed are replaced whole (delete+insert on stock_date), so the table equals a
-- full rebuild. Without new counts or adjustments nothing is recomputed. (A count's id holds its
-- location, SKU and count time (raw-contract.md), so a new version of a count never moves it to
-- another day or pair.)
with

stock as (
    select * from {{ ref('stg_tpl__stock') }}
    where sku is not null and location_id is not null and count_date is not null
),

adjusted_pair_counts as (
    -- the counts of the pairs with adjustments (the others need no as-of join)
    select sku, location_id, counted_at from stock
    where (sku, location_id) in (select sku, location_id from {{ ref('inventory_adjustments') }})
),

adjustments as (
    -- every adjustment with the count it follows (of the pairs with adjustments) and the first
    -- day it changes: its date, not before that count's day
    select
        *,
        greatest(adjustment_date, cast(timezone('UTC', counted_at) as date)) as effective_date
    from ({{ adjustments_after_counts('adjusted_pair_counts') }})
),

adjustment_steps as (
    -- per count with adjustments after it: the running sum of those adjustments, valid from each
    -- effective day until the next
    select
        sku,
        location_id,
        counted_at,
        effective_date as valid_from,
        lead(effective_date) over (
            partition by sku, location_id, counted_at order by effective_date
        ) as valid_to,
        sum(sum(quantity)) over (
            partition by sku, location_id, counted_at order by effective_date
        ) as adjusted
    from adjustments
    group by sku, location_id, counted_at, effective_date
),

landed as (
    -- what the snapshots are computed from, by the first day it changes, with its landing
    select count_date as day, _max_loaded_at as loaded_at from stock
    union all
    select effective_date, _loaded_at from adjustments
    union all
    -- a write-off voided by a later version is no adjustment any more, but the days it took
    -- stock off change back (not before the first count: nothing to recompute there)
    select
        greatest({{ business_date('ordered_at') }}, (select min(count_date) from stock)),
        _max_loaded_at
    from {{ ref('stg_tills__order_lines') }}
    where is_write_off and is_cancelled
),

{% if is_incremental() %}
previous as (
    select max(stock_date) as end_date, max(_stock_loaded_at) as stock_loaded_at
    from {{ this }}
),

bounds as (
    -- the first day to recompute: the earliest count or adjustment landed since the last run (or
    -- the day after the previous end, if the new counts skip days); null when nothing new landed
    select
        case when count(*) > 0 then least(min(s.day), any_value(p.end_date) + 1) end
            as from_date
    from landed as s
    cross join previous as p
    where s.loaded_at > coalesce(p.stock_loaded_at, cast('-infinity' as timestamptz))
),

carried_in as (
    -- each pair's state at the end of the day before from_date
    select
        t.sku,
        t.location_id,
        {%- if 'counted_on_hand' in (adapter.get_columns_in_relation(this) | map(attribute='name')) %}
        coalesce(t.counted_on_hand, t.on_hand) as on_hand,
        {%- else %}
        -- a table written before adjustments counted: its on_hand is the count's
        t.on_hand,
        {%- endif %}
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
    -- latest landing of any count or adjustment dated up to each day (the watermark of
    -- incremental runs)
    select
        cast(d.day as date) as stock_date,
        max(max(c.loaded_at)) over (order by d.day) as stock_loaded_at
    from (
        select unnest(generate_series(
            (select min(valid_from) from day_counts), (select end_date from end_date), interval 1 day
        )) as day
    ) as d
    left join landed as c on c.day = cast(d.day as date)
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
        cast({{ adjusted_on_hand('d.on_hand', 's.adjusted') }} as integer) as on_hand,
        d.on_hand as counted_on_hand,
        cast(coalesce(s.adjusted, 0) as integer) as adjusted_since_count,
        -- the pair has had stock (by its counts) on some day up to this one: zero stock before the SKU was ever
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
    left join adjustment_steps as s
        on d.sku = s.sku and d.location_id = s.location_id and d.last_counted_at = s.counted_at
        and d.stock_date >= s.valid_from and (s.valid_to is null or d.stock_date < s.valid_to)
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
    _stock_loaded_at,
    counted_on_hand,
    adjusted_since_count
from final
