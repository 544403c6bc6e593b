-- End-of-day stock counts. count_date is the UTC date of counted_at (counts are taken at the end
-- of the day they describe).
with

source as (
    {{ latest_version(source('raw', 'tpl__stock')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', {
            'sku': 'VARCHAR', 'location_id': 'VARCHAR', 'on_hand': 'VARCHAR', 'counted_at': 'VARCHAR'
        }) }} as c
    from source
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as stock_count_id,
        trim(c.sku) as sku,
        trim(c.location_id) as location_id,
        cast(cast(nullif(trim(c.on_hand), '') as decimal(18, 4)) as integer) as on_hand,
        {{ to_utc_ts('c.counted_at') }} as counted_at
    from parsed
),

final as (
    select
        *,
        cast(timezone('UTC', counted_at) as date) as count_date
    from renamed
)

select * from final
