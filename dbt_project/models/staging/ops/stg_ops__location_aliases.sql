with

source as (
    select * from {{ source('ops', 'location_aliases') }}
),

final as (
    select
        cast(channel as varchar) as channel,
        cast(external_id as varchar) as external_id,
        cast(location_id as varchar) as location_id
    from source
)

select * from final
