-- Bills of materials of bundles and kits: units of each component in one unit of the bundle.
-- The landing gate holds rows without a SKU, with a bundle that is its own component or with a
-- quantity that is not a whole number of at least 1 (connectors/reference/checks.py).
with

source as (
    {{ latest_version(source('raw', 'files__bundle_components')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as bundle_component_id,
        trim(_payload ->> 'bundle_sku') as bundle_sku,
        trim(_payload ->> 'component_sku') as component_sku,
        cast(cast(trim(_payload ->> 'quantity') as decimal(18, 4)) as integer) as quantity,
        _loaded_at as updated_at
    from source
)

select * from final
