-- Shopify customer tags: REST `tags` is one comma-separated string ("newsletter, vip"; GraphQL
-- Customer.tags is a list, which the connector joins the same way). One row per customer, also
-- without tags (an empty list), so a version that removes every tag replaces the old row on an
-- incremental run (delete+insert by record).
with

source as (
    {{ latest_version(source('raw', 'shop__customers')) }}
),

split as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as customer_id,
        list_transform(string_split(coalesce(_payload ->> 'tags', ''), ','), lambda t: trim(t)) as parts
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        customer_id,
        list_sort(list_distinct(list_filter(parts, lambda t: t <> ''))) as tags
    from split
)

select * from final
