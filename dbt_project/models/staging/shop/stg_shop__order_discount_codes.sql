-- The discount codes of each Shopify order (REST `discount_codes`: code, amount, type; the
-- connector builds them from GraphQL Order.discountCodes and discountApplications). One row per
-- order with the list of its codes (empty when none), so a new version of an order replaces its
-- codes on an incremental run (delete+insert by record). `amount` is in shop money; the connector
-- leaves it null where Shopify does not say (several percentage codes on one order).
with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

parsed as (
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', {'id': 'VARCHAR', 'discount_codes': [{'code': 'VARCHAR', 'amount': 'VARCHAR', 'type': 'VARCHAR'}]}) }} as o
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        list_transform(
            list_filter(coalesce(o.discount_codes, []), lambda d: nullif(trim(d.code), '') is not null),
            lambda d: {
                'code': trim(d.code),
                'amount_local': cast(nullif(trim(d.amount), '') as decimal(18, 4)),
                'discount_type': nullif(trim(d.type), '')
            }
        ) as discount_codes
    from parsed
)

select * from final
