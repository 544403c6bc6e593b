with

source as (
    select * from {{ source('ops', 'locations') }}
),

final as (
    select
        cast(location_id as varchar) as location_id,
        cast(name as varchar) as location_name,
        upper(cast(country as varchar)) as country,
        cast(kind as varchar) as kind
    from source
)

select * from final
