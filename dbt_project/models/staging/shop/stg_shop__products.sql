with

source as (
    {{ latest_version(source('raw', 'shop__products')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as product_id,
        _payload ->> 'title' as title,
        nullif(_payload ->> 'product_type', '') as category,
        _payload ->> 'vendor' as vendor,
        _payload ->> 'status' as status,
        {{ to_utc_ts("_payload ->> 'created_at'") }} as created_at,
        {{ to_utc_ts("_payload ->> 'updated_at'") }} as updated_at
    from source
)

select * from final
