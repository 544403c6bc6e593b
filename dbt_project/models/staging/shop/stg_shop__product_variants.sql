with

source as (
    {{ latest_version(source('raw', 'shop__products')) }}
),

variants as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as product_id,
        _payload ->> 'title' as product_title,
        unnest({{ json_array('_payload', '$.variants') }}) as variant
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(variant ->> 'id' as varchar) as variant_id,
        product_id,
        variant ->> 'sku' as sku,
        product_title,
        variant ->> 'title' as variant_title,
        {{ json_money('variant', '$.price') }} as list_price_local,
        cast(variant ->> 'inventory_item_id' as varchar) as inventory_item_id,
        {{ to_utc_ts("variant ->> 'created_at'") }} as created_at,
        {{ to_utc_ts("variant ->> 'updated_at'") }} as updated_at
    from variants
)

select * from final
