with

source as (
    {{ latest_version(source('raw', 'shop__customers')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as customer_id,
        {{ normalize_email("_payload ->> 'email'") }} as email,
        _payload ->> 'first_name' as first_name,
        _payload ->> 'last_name' as last_name,
        upper(_payload ->> '$.default_address.country_code') as country,
        {{ to_utc_ts("_payload ->> 'created_at'") }} as created_at,
        {{ to_utc_ts("_payload ->> 'updated_at'") }} as updated_at
    from source
)

select * from final
