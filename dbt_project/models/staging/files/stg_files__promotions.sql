-- The promotion calendar (forecasting/adjustments.py): one row per promotion x target x location.
-- `sku` / `category` name the target; `all` in either means every SKU; a blank or `all`
-- location means every location (location_id null). The gate held rows without a target, with
-- an end before their start, unreadable dates or a negative uplift.
with

source as (
    {{ latest_version(source('raw', 'files__promotions')) }}
),

cleaned as (
    select
        _source_id,
        _max_loaded_at,
        trim(_payload ->> 'promotion_id') as promotion_id,
        nullif(trim(_payload ->> 'sku'), '') as sku_given,
        nullif(trim(_payload ->> 'category'), '') as category_given,
        nullif(trim(_payload ->> 'location_id'), '') as location_given,
        cast(left(trim(_payload ->> 'start'), 10) as date) as start_date,
        cast(left(trim(_payload ->> 'end'), 10) as date) as end_date,
        cast(nullif(trim(_payload ->> 'uplift'), '') as decimal(18, 4)) as uplift,
        cast(nullif(trim(_payload ->> 'units'), '') as decimal(18, 4)) as units,
        coalesce(lower(nullif(trim(_payload ->> 'status'), '')), 'planned') as status,
        nullif(trim(_payload ->> 'description'), '') as description
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as promotion_row_id,
        promotion_id,
        case
            when lower(coalesce(sku_given, category_given)) = 'all' then 'all'
            when sku_given is not null then 'sku'
            else 'category'
        end as applies_to,
        case when lower(sku_given) <> 'all' then sku_given end as sku,
        case when lower(category_given) <> 'all' then category_given end as category,
        case when lower(location_given) <> 'all' then location_given end as location_id,
        start_date,
        end_date,
        uplift,
        units,
        status,
        description,
        _max_loaded_at as landed_at
    from cleaned
)

select * from final
