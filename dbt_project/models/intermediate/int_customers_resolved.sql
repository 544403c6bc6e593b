{{ config(materialized='table') }}
-- One row per person, resolved across channels: customer_key = md5(lower(trim(email))), else
-- <channel>:<customer id>. Amazon buyers have relay e-mails, so they never merge with other
-- channels. Includes customer records (Shopify, Woo) that have not ordered yet.
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

shop_customers as (
    select * from {{ ref('stg_shop__customers') }}
),

woo_customers as (
    select * from {{ ref('stg_woo__customers') }}
),

-- Shopify customer tags (the only channel with customer tags: WooCommerce customers have a
-- role, Amazon buyers and till customers nothing), per person: every tag of every Shopify
-- customer record the person resolves to
shop_tags as (
    select
        {{ customer_key("'shop'", 'c.email', 'c.customer_id') }} as customer_key,
        unnest(t.tags) as tag
    from {{ ref('stg_shop__customer_tags') }} as t
    inner join shop_customers as c on t.customer_id = c.customer_id
),

person_tags as (
    select
        customer_key,
        string_agg(distinct tag, ', ' order by tag) as tags
    from shop_tags
    where customer_key is not null
    group by all
),

identities as (
    select
        customer_key,
        channel,
        email,
        first_name,
        last_name,
        coalesce(ship_country, customer_country) as country,
        ordered_at as seen_at
    from orders
    where customer_key is not null

    union all

    select
        {{ customer_key("'shop'", 'email', 'customer_id') }},
        'shop',
        email,
        first_name,
        last_name,
        country,
        coalesce(updated_at, created_at)
    from shop_customers

    union all

    select
        {{ customer_key("'woo'", 'email', 'customer_id') }},
        'woo',
        email,
        first_name,
        last_name,
        country,
        coalesce(updated_at, created_at)
    from woo_customers
),

resolved as (
    select
        customer_key,
        max(email) as email,
        -- the most recent non-empty value wins
        arg_max(first_name, seen_at) filter (where first_name is not null) as first_name,
        arg_max(last_name, seen_at) filter (where last_name is not null) as last_name,
        arg_max(country, seen_at) filter (where country is not null) as country,
        string_agg(distinct channel, ',' order by channel) as channels,
        min(seen_at) as first_seen_at
    from identities
    where customer_key is not null
    group by customer_key
),

final as (
    select
        r.*,
        t.tags
    from resolved as r
    left join person_tags as t on r.customer_key = t.customer_key
)

select * from final
