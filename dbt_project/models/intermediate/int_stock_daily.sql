{{ config(materialized='table') }}
-- End-of-day on_hand per day x sku x location, from the first count of the pair to the last count
-- date of any pair, carried forward between counts.
with

counts as (
    -- the last count of each day
    select
        sku,
        location_id,
        count_date,
        arg_max(on_hand, counted_at) as on_hand,
        max(counted_at) as counted_at
    from {{ ref('stg_tpl__stock') }}
    where sku is not null and location_id is not null and count_date is not null
    group by all
),

pairs as (
    select sku, location_id, min(count_date) as first_date
    from counts
    group by all
),

spine as (
    select
        p.sku,
        p.location_id,
        cast(d.day as date) as stock_date
    from pairs as p
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
        counts.on_hand,
        counts.count_date as last_count_date,
        counts.counted_at as last_counted_at,
        counts.count_date < spine.stock_date as is_carried_forward
    from spine
    asof left join counts
        on spine.sku = counts.sku
        and spine.location_id = counts.location_id
        and spine.stock_date >= counts.count_date
),

final as (
    select
        *,
        -- the pair has had stock on some day up to this one: zero stock before the SKU was ever
        -- stocked there (not launched / not carried) is not a stockout
        coalesce(max(on_hand) over (
            partition by sku, location_id order by stock_date rows between unbounded preceding and current row
        ) > 0, false) as has_been_stocked
    from carried
)

select
    *,
    on_hand <= 0 and has_been_stocked as is_stockout
from final
