-- End-of-day stock counts. count_date is the UTC date of counted_at (counts are taken at the end
-- of the day they describe).
with

source as (
    {{ latest_version(source('raw', 'tpl__stock')) }}
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as stock_count_id,
        trim(_payload ->> 'sku') as sku,
        trim(_payload ->> 'location_id') as location_id,
        cast(cast(nullif(trim(_payload ->> 'on_hand'), '') as decimal(18, 4)) as integer) as on_hand,
        {{ to_utc_ts("_payload ->> 'counted_at'") }} as counted_at
    from source
),

final as (
    select
        *,
        cast(timezone('UTC', counted_at) as date) as count_date
    from renamed
)

select * from final
