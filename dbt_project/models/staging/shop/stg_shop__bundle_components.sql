-- Shopify fixed bundles: the components of each bundle variant (`productVariantComponents`, in
-- the raw product's variants as `components`, connectors/shopify/mapping.py), from the latest
-- product version. A product landed without components (a file drop, a variant that is no
-- bundle) has no rows here; a bundle whose components were removed loses its rows with the
-- product version that says so. The bill of materials the pipeline uses (the drop folder's file
-- first) is int_bundle_components.
with

source as (
    {{ latest_version(source('raw', 'shop__products')) }}
),

variants as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as product_id,
        {{ to_utc_ts("_payload ->> 'updated_at'") }} as product_updated_at,
        unnest({{ json_array('_payload', '$.variants') }}) as variant
    from source
),

components as (
    select
        _source_id,
        _max_loaded_at,
        product_id,
        product_updated_at,
        variant,
        unnest({{ json_array('variant', '$.components') }}) as component
    from variants
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(component ->> 'id' as varchar) as bundle_component_id,
        product_id,
        cast(variant ->> 'id' as varchar) as bundle_variant_id,
        nullif(trim(variant ->> 'sku'), '') as bundle_sku,
        cast(component ->> 'variant_id' as varchar) as component_variant_id,
        nullif(trim(component ->> 'sku'), '') as component_sku,
        {{ json_int('component', '$.quantity') }} as quantity,
        cast(variant ->> 'requires_components' as boolean) as requires_components,
        coalesce({{ to_utc_ts("variant ->> 'updated_at'") }}, product_updated_at) as updated_at
    from components
)

select * from final
