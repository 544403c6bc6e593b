{%- set order_shape = {
    'id': 'VARCHAR',
    'name': 'VARCHAR',
    'created_at': 'VARCHAR',
    'processed_at': 'VARCHAR',
    'updated_at': 'VARCHAR',
    'cancelled_at': 'VARCHAR',
    'cancel_reason': 'VARCHAR',
    'currency': 'VARCHAR',
    'presentment_currency': 'VARCHAR',
    'financial_status': 'VARCHAR',
    'fulfillment_status': 'VARCHAR',
    'taxes_included': 'VARCHAR',
    'total_line_items_price': 'VARCHAR',
    'total_discounts': 'VARCHAR',
    'total_tax': 'VARCHAR',
    'total_price': 'VARCHAR',
    'subtotal_price': 'VARCHAR',
    'total_shipping_price_set': {'shop_money': {'amount': 'VARCHAR'}},
    'shipping_lines': [{'price': 'VARCHAR'}],
    'email': 'VARCHAR',
    'customer': {'id': 'VARCHAR', 'email': 'VARCHAR', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR'},
    'shipping_address': {'country_code': 'VARCHAR'},
    'fulfillments': [{'created_at': 'VARCHAR', 'location_id': 'VARCHAR'}],
    'fulfillment_orders': [{'assigned_location_id': 'VARCHAR'}],
} -%}
with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        _source_updated_at,
        _loaded_at,
        {{ json_shape('_payload', order_shape) }} as o
    from source
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        o.name as order_number,
        {{ to_utc_ts('o.created_at') }} as ordered_at,
        {{ to_utc_ts('o.processed_at') }} as processed_at,
        {{ to_utc_ts('o.updated_at') }} as updated_at,
        {{ to_utc_ts('o.cancelled_at') }} as cancelled_at,
        o.cancel_reason,
        upper(o.currency) as currency,
        upper(o.presentment_currency) as presentment_currency,
        o.financial_status,
        o.fulfillment_status,
        coalesce(cast(o.taxes_included as boolean), false) as taxes_included,
        {{ text_money('o.total_line_items_price') }} as total_line_items_price_local,
        {{ text_money('o.total_discounts') }} as total_discounts_local,
        {{ text_money('o.total_tax') }} as total_tax_local,
        {{ text_money('o.total_price') }} as total_price_local,
        {{ text_money('o.subtotal_price') }} as subtotal_price_local,
        coalesce(
            {{ text_money('o.total_shipping_price_set.shop_money.amount') }},
            list_sum(list_transform(o.shipping_lines, lambda sl: cast(sl.price as decimal(18, 4))))
        ) as total_shipping_local,
        {{ normalize_email('coalesce(o.email, o.customer.email)') }} as email,
        o.customer.id as customer_id,
        o.customer.first_name as customer_first_name,
        o.customer.last_name as customer_last_name,
        upper(o.shipping_address.country_code) as ship_country,
        -- the Shopify location of the first fulfillment, else the location Shopify assigned the
        -- order to before it shipped (resolved to ours in intermediate)
        -- (list functions, not correlated subqueries: those cost a join over every order)
        coalesce(
            list_sort(
                list_transform(
                    o.fulfillments,
                    lambda f: {'fulfilled_at': {{ to_utc_ts('f.created_at') }}, 'location_id': f.location_id}
                ),
                'ASC', 'NULLS LAST'
            )[1].location_id,
            o.fulfillment_orders[1].assigned_location_id
        ) as fulfillment_external_location_id,
        _source_updated_at,
        _loaded_at
    from parsed
),

final as (
    select
        *,
        cancelled_at is not null as is_cancelled
    from renamed
)

select * from final
