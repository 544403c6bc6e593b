-- The buyers' forecast overrides (forecasting/adjustments.py): one forecast week (`period_start`,
-- a Monday) of one SKU at one location, replaced by `units` or scaled by `factor`, with who did
-- it and why. The gate held rows with both or neither, an unknown week or location, no reason
-- or no author.
with

source as (
    {{ latest_version(source('raw', 'files__forecast_overrides')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as override_id,
        trim(_payload ->> 'sku') as sku,
        trim(_payload ->> 'location_id') as location_id,
        cast(left(trim(_payload ->> 'period_start'), 10) as date) as period_start,
        cast(nullif(trim(_payload ->> 'units'), '') as decimal(18, 4)) as units,
        cast(nullif(trim(_payload ->> 'factor'), '') as decimal(18, 4)) as factor,
        trim(_payload ->> 'reason') as reason,
        trim(_payload ->> 'author') as author,
        _max_loaded_at as landed_at
    from source
)

select * from final
