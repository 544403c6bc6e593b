-- The coupons of each WooCommerce order (`coupon_lines`: code, discount, discount_tax; Woo
-- stores codes lower-case). Their discount is already inside the line totals. One row per order
-- with the list of its coupons (empty when none), so a new version of an order replaces its
-- coupons on an incremental run (delete+insert by record).
with

source as (
    {{ latest_version(source('raw', 'woo__orders')) }}
),

parsed as (
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', {'id': 'VARCHAR', 'coupon_lines': [{'id': 'VARCHAR', 'code': 'VARCHAR', 'discount': 'VARCHAR', 'discount_tax': 'VARCHAR'}]}) }} as o
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        list_transform(
            list_filter(coalesce(o.coupon_lines, []), lambda c: nullif(trim(c.code), '') is not null),
            lambda c: {
                'coupon_line_id': c.id,
                'code': trim(c.code),
                'amount_local': cast(nullif(trim(c.discount), '') as decimal(18, 4)),
                'tax_local': cast(nullif(trim(c.discount_tax), '') as decimal(18, 4))
            }
        ) as coupon_lines
    from parsed
)

select * from final
