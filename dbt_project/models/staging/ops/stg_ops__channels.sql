with

source as (
    select * from {{ source('ops', 'channels') }}
),

final as (
    select
        cast(channel as varchar) as channel,
        cast(kind as varchar) as kind,
        upper(cast(currency as varchar)) as currency,
        cast(default_location_id as varchar) as default_location_id
    from source
)

select * from final
