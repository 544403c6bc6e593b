with

source as (
    {{ latest_version(source('raw', 'woo__customers')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as customer_id,
        {{ normalize_email("_payload ->> 'email'") }} as email,
        _payload ->> 'first_name' as first_name,
        _payload ->> 'last_name' as last_name,
        upper(_payload ->> '$.billing.country') as country,
        {{ local_to_utc_ts("_payload ->> 'date_created_gmt'") }} as created_at,
        {{ local_to_utc_ts("_payload ->> 'date_modified_gmt'") }} as updated_at
    from source
)

select * from final
