-- The bill of materials of bundles and kits the pipeline uses: the drop folder's file
-- (stg_files__bundle_components) and Shopify's fixed bundles (stg_shop__bundle_components), one
-- definition per bundle. A bundle the file defines takes the file's components, all of them and
-- only them: the file is what the merchant wrote for the pipeline, so it overrides what the shop
-- says (a kit Shopify does not know, a BOM corrected by hand); mixing the two per component would
-- make a bundle neither defined. A bundle only Shopify defines takes Shopify's. Where two Shopify
-- variants carry the same bundle SKU the most recently updated one defines it; a component
-- variant listed twice (or two variants with one SKU) adds up its units. Shopify rows without a
-- bundle or component SKU cannot be matched to sales or stock and are left out (the staging
-- model warns of them), as is a bundle listed as its own component.
with

file_bom as (
    select bundle_sku, component_sku, quantity, updated_at
    from {{ ref('stg_files__bundle_components') }}
),

shop_rows as (
    select *
    from {{ ref('stg_shop__bundle_components') }}
    where bundle_sku is not null
        and component_sku is not null
        and component_sku <> bundle_sku
        and bundle_sku not in (select bundle_sku from file_bom)
),

shop_variant as (
    -- the one variant that defines each Shopify bundle SKU
    select bundle_sku, bundle_variant_id
    from shop_rows
    group by bundle_sku, bundle_variant_id
    qualify row_number() over (
        partition by bundle_sku order by max(updated_at) desc nulls last, bundle_variant_id desc
    ) = 1
),

shop_bom as (
    select
        r.bundle_sku,
        r.component_sku,
        cast(sum(r.quantity) as integer) as quantity,
        max(r.updated_at) as updated_at
    from shop_rows as r
    inner join shop_variant as v
        on r.bundle_sku = v.bundle_sku and r.bundle_variant_id = v.bundle_variant_id
    group by r.bundle_sku, r.component_sku
),

final as (
    select bundle_sku, component_sku, quantity, 'file' as bom_source, updated_at
    from file_bom
    union all
    select bundle_sku, component_sku, quantity, 'shopify' as bom_source, updated_at
    from shop_bom
)

select * from final
