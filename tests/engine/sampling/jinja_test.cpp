// The Jinja subset: whitespace control, statements, scoping, operators, filters, tests,
// methods and Python-style printing, each checked against what Jinja2 renders.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/chat/jinja_template.h"

namespace meridian::engine::jinja {
namespace {

std::string R(const std::string& source, const std::string& context = "{}") {
  Result<Template> t = Template::Parse(source);
  if (!t.ok()) return "PARSE ERROR: " + t.status().message();
  Result<std::string> out = t->Render(nlohmann::ordered_json::parse(context));
  if (!out.ok()) return "ERROR: " + out.status().message();
  return *out;
}

const char* kCtx = R"({"xs": ["a", "b", "c"], "n": 7, "s": "  Hello World  ", "none_value": null,
  "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}],
  "d": {"b": 2, "a": 1}, "f": 2.5, "uni": "héllo"})";

TEST(Jinja, TextAndExpressions) {
  EXPECT_EQ(R("plain text"), "plain text");
  EXPECT_EQ(R("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 10 }}|{{ -2 ** 2 }}"), "7|9|1024|4");
  EXPECT_EQ(R("{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 6 / 3 }}"),
            "3.5|3|-4|2|-2|2.0");
  EXPECT_EQ(R("{{ 'a' ~ 1 ~ none_value ~ true }}|{{ 'ab' + 'cd' }}|{{ 'ab' * 3 }}", kCtx),
            "a1NoneTrue|abcd|ababab");
  EXPECT_EQ(R("{{ [1, 'a', none, true, 2.5, {'k': 'v'}] }}"), "[1, 'a', None, True, 2.5, {'k': 'v'}]");
  EXPECT_EQ(R("{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1.5e-5 }}|{{ 100.0 / 3 }}"),
            "1.0|0.30000000000000004|1e+16|1.5e-05|33.333333333333336");
  EXPECT_EQ(R("{{ \"it's\" }}|{{ ['it\\'s'] }}|{{ 'a\\tb\\n' | tojson }}|{{ '\\u00e9' }}"),
            "it's|[\"it's\"]|\"a\\tb\\n\"|\xc3\xa9");
  EXPECT_EQ(R("{{ undefined_thing }}|{{ none_value }}", kCtx), "|None");
  EXPECT_EQ(R("{{ 'yes' if n > 5 else 'no' }}|{{ 'yes' if n > 50 else 'no' }}|{{ 'x' if false }}", kCtx),
            "yes|no|");
  EXPECT_EQ(R("{{ true and 'x' }}|{{ false or 'y' }}|{{ not n }}|{{ '' or [] or 'z' }}", kCtx),
            "x|y|False|z");
}

TEST(Jinja, ComparisonsAndMembership) {
  EXPECT_EQ(R("{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ 2 < 3 }}{{ 'b' > 'a' }}{{ 3 <= 3 }}{{ [1, 2] == [1, 2] }}"),
            "TrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(R("{{ 'b' in xs }}{{ 'z' not in xs }}{{ 'ell' in 'hello' }}{{ 'a' in d }}{{ 'q' in d }}", kCtx),
            "TrueTrueTrueTrueFalse");
  EXPECT_EQ(R("{{ none_value == none }}{{ undefined_thing == none }}{{ 1 == '1' }}", kCtx), "TrueFalseFalse");
  EXPECT_EQ(R("{{ 1 < 'a' }}"), "ERROR: template error (line 1): '<': cannot order 'int' and 'str'");
}

TEST(Jinja, SubscriptsSlicesAndAttributes) {
  EXPECT_EQ(
      R("{{ xs[0] }}{{ xs[-1] }}{{ xs[5] }}|{{ xs[1:] }}|{{ xs[::-1] }}|{{ xs[:-1] }}|{{ xs[::2] }}", kCtx),
      "ac|['b', 'c']|['c', 'b', 'a']|['a', 'b']|['a', 'c']");
  EXPECT_EQ(R("{{ msgs[0]['role'] }}{{ msgs[0].content }}{{ msgs.0.role }}|{{ msgs[1:][0].role }}", kCtx),
            "systemSsystem|user");
  EXPECT_EQ(R("{{ 'hello'[1:3] }}|{{ uni[1] }}|{{ uni[::-1] }}|{{ uni | length }}", kCtx),
            "el|\xc3\xa9|oll\xc3\xa9h|5");
  EXPECT_EQ(R("{{ msgs[0].missing is defined }}|{{ d.get('a') }}{{ d.get('z', 9) }}{{ d.get('z') }}", kCtx),
            "False|19None");
  EXPECT_EQ(R("{{ xs[::0] }}", kCtx), "ERROR: template error (line 1): slice step cannot be zero");
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(R("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(R("a \n {%- if true -%} \n b \n {%- endif -%} \n c"), "abc");
  EXPECT_EQ(R("a {# comment #} b"), "a  b");
  EXPECT_EQ(R("a {#- comment -#} b"), "ab");
  // trim_blocks + lstrip_blocks, as Hugging Face configures Jinja.
  EXPECT_EQ(R("<ul>\n  {% for x in xs %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n", kCtx),
            "<ul>\n  <li>a</li>\n  <li>b</li>\n  <li>c</li>\n</ul>");
  EXPECT_EQ(R("x {% if true %}y{% endif %} z"), "x y z");  // lstrip only at the start of a line
  EXPECT_EQ(R("{% if true +%}\nA{% endif %}"), "\nA");     // +%} keeps the newline
  EXPECT_EQ(R("  {%+ if true %}A{% endif %}"), "  A");     // {%+ keeps the indentation
  EXPECT_EQ(R("{{ 'a' }}\n{{ 'b' }}\n"), "a\nb");          // one trailing newline is dropped
  EXPECT_EQ(R("line1\r\nline2"), "line1\nline2");
  EXPECT_EQ(R("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
}

TEST(Jinja, ForLoops) {
  EXPECT_EQ(
      R("{% for x in xs %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}"
        "{{ loop.length }}{{ x }};{% endfor %}",
        kCtx),
      "013TrueFalse3a;122FalseFalse3b;231FalseTrue3c;");
  EXPECT_EQ(R("{% for x in xs %}{{ loop.previtem }}>{{ x }}<{{ loop.nextitem }} {% endfor %}", kCtx),
            ">a<b a>b<c b>c< ");
  EXPECT_EQ(R("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", kCtx), "b=2,a=1,");
  EXPECT_EQ(R("{% for k in d %}{{ k }}{% endfor %}|{% for c in 'abc' %}{{ c }}.{% endfor %}", kCtx),
            "ba|a.b.c.");
  EXPECT_EQ(R("{% for m in msgs if m.role != 'system' %}{{ loop.index }}{{ m.role }}{% endfor %}", kCtx),
            "1user2assistant");
  EXPECT_EQ(R("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(
      R("{% for x in xs %}{% if x == 'b' %}{% continue %}{% endif %}{% if x == 'c' %}{% break %}{% endif %}"
        "{{ x }}{% endfor %}",
        kCtx),
      "a");
  EXPECT_EQ(R("{% for i in range(3) %}{% for j in range(i) %}{{ i }}{{ j }} {% endfor %}{% endfor %}"),
            "10 20 21 ");
  EXPECT_EQ(R("{{ range(2, 10, 3) | list }}|{{ range(5, 0, -2) | list }}"), "[2, 5, 8]|[5, 3, 1]");
  EXPECT_EQ(R("{% for x in undefined_list %}x{% endfor %}ok"), "ok");
  EXPECT_EQ(R("{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", kCtx), "odd even odd ");
}

TEST(Jinja, SetScopingAndNamespaces) {
  EXPECT_EQ(R("{% set x = 1 %}{% for i in xs %}{% set x = 2 %}{% endfor %}{{ x }}", kCtx), "1");
  EXPECT_EQ(R("{% set ns = namespace(found=false, count=0) %}{% for m in msgs %}{% if m.role == 'user' %}"
              "{% set ns.found = true %}{% endif %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.found "
              "}}{{ ns.count }}",
              kCtx),
            "True3");
  EXPECT_EQ(R("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(R("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(R("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]"), "[inner 2]");
  EXPECT_EQ(R("{% set d2 = dict(a=1, b='x') %}{{ d2.b }}{{ d2 | length }}"), "x2");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(R("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
              "{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet(name='Cy') }}"),
            "Hi Ann! Hi Bob? Hi Cy!");
  EXPECT_EQ(
      R("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}"
        "{{ fact(5) }}"),
      "120");
  EXPECT_EQ(R("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}"),
            "ERROR: template error (line 1): macro 'm' takes 1 arguments (2 given)");
}

TEST(Jinja, Filters) {
  EXPECT_EQ(
      R("[{{ s | trim }}]|{{ s | length }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}|{{ 'hello world' | title }}"
        "|{{ 'hELLO' | capitalize }}",
        kCtx),
      "[Hello World]|15|ABab|Hello World|Hello");
  EXPECT_EQ(R("{{ undefined_x | default('dflt') }}|{{ '' | default('e', true) }}|{{ '' | d('e') }}|{{ "
              "none_value | default('z') }}",
              kCtx),
            "dflt|e||None");
  EXPECT_EQ(
      R("{{ xs | first }}{{ xs | last }}{{ xs | join }}{{ xs | join(', ') }}|{{ [1, 2] | join('-') }}", kCtx),
      "acabca, b, c|1-2");
  EXPECT_EQ(R("{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 42 | string }}{{ 42 | "
              "string | length }}"),
            "a+b+c|bba|422");
  EXPECT_EQ(R("{{ msgs | map(attribute='role') | join(',') }}|{{ msgs | selectattr('role', 'equalto', "
              "'user') | list | length }}"
              "|{{ msgs | rejectattr('role', 'eq', 'system') | map(attribute='content') | join }}",
              kCtx),
            "system,user,assistant|1|UA");
  EXPECT_EQ(R("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ "
              "[1, 2, 1] | unique | list }}"),
            "[1, 2, 3]|['A', 'b', 'c']|[3, 2, 1]|[1, 2]");
  EXPECT_EQ(R("{{ d | dictsort }}|{{ d | items | list }}|{{ [1, 2, 3] | sum }}|{{ [4, 9, 2] | max }}{{ [4, "
              "9, 2] | min }}",
              kCtx),
            "[['a', 1], ['b', 2]]|[['b', 2], ['a', 1]]|6|92");
  EXPECT_EQ(R("{{ '3' | int + 1 }}|{{ '2.5' | float }}|{{ 'x' | int }}|{{ 2.7 | int }}|{{ -3 | abs }}|{{ "
              "2.567 | round(2) }}"),
            "4|2.5|0|2|3|2.57");
  EXPECT_EQ(R("{{ [1, 2, 3] | select('odd') | list }}|{{ [0, 1, '', 'a'] | select | list }}|{{ ['a', 'b'] | "
              "map('upper') | list }}"),
            "[1, 3]|[1, 'a']|['A', 'B']");
  EXPECT_EQ(R("{{ 'a\nb\n\nc' | indent(2) }}|{{ '<b>&' | e }}|{{ 'x' | safe }}|{{ 'a b  c' | wordcount }}|{{ "
              "[1,2] | reverse | list }}"),
            "a\n  b\n\n  c|&lt;b&gt;&amp;|x|3|[2, 1]");
}

TEST(Jinja, ToJsonMatchesHuggingFace) {
  EXPECT_EQ(R("{{ d | tojson }}", kCtx), "{\"b\": 2, \"a\": 1}");
  EXPECT_EQ(R("{{ d | tojson(sort_keys=true) }}", kCtx), "{\"a\": 1, \"b\": 2}");
  EXPECT_EQ(R("{{ {'a': [1, 2.5, none, true]} | tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}");
  EXPECT_EQ(R("{{ uni | tojson }}|{{ uni | tojson(ensure_ascii=true) }}", kCtx),
            "\"h\xc3\xa9llo\"|\"h\\u00e9llo\"");
  EXPECT_EQ(R("{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ [] | tojson }}|{{ {} | tojson(indent=2) }}"),
            "[1,2]|[]|{}");
  EXPECT_EQ(R("{{ '\x01\"\\\\' | tojson }}"), "\"\\u0001\\\"\\\\\"");
}

TEST(Jinja, Tests) {
  EXPECT_EQ(R("{{ xs is defined }}{{ nope is defined }}{{ nope is undefined }}{{ none_value is none }}"
              "{{ 'x' is string }}{{ 1 is string }}{{ xs is not string }}",
              kCtx),
            "TrueFalseTrueTrueTrueFalseTrue");
  EXPECT_EQ(
      R("{{ 1 is integer }}{{ 1.5 is float }}{{ 1 is number }}{{ true is boolean }}{{ true is integer }}"
        "{{ d is mapping }}{{ xs is iterable }}{{ xs is sequence }}{{ 4 is even }}{{ 3 is odd }}",
        kCtx),
      "TrueTrueTrueTrueFalseTrueTrueTrueTrueTrue");
  EXPECT_EQ(R("{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 'b' is in xs }}{{ 3 is gt 2 }}{{ 'ab' is "
              "lower }}"
              "{{ true is true }}{{ false is false }}{{ 2 is eq 2 }}",
              kCtx),
            "TrueFalseTrueTrueTrueTrueTrueTrue");
}

TEST(Jinja, StringMethods) {
  EXPECT_EQ(R("[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxaxx'.strip('x') }}]", kCtx),
            "[Hello World][Hello World  ][  Hello World][a]");
  EXPECT_EQ(R("{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}"
              "{{ 'hello'.endswith('x') }}"),
            "TrueTrueTrueFalse");
  EXPECT_EQ(R("{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}"),
            "['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']");
  EXPECT_EQ(R("{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}{{ 'a-b'.replace('-', '') }}{{ 'hello'.find('l') }}"
              "{{ ', '.join(['x', 'y']) }}{{ 'hello world'.title() }}"),
            "ABabab2x, yHello World");
  EXPECT_EQ(R("{% set l = [1] %}{{ l.append(2) }}{{ l }}{{ l.pop() }}{{ l }}"), "None[1, 2]2[1]");
  EXPECT_EQ(R("{{ d.keys() | list }}{{ d.values() | list }}", kCtx), "['b', 'a'][2, 1]");
}

TEST(Jinja, FilterBlockAndGeneration) {
  EXPECT_EQ(R("{% filter upper %}hello {{ 'x' }}{% endfilter %}"), "HELLO X");
  EXPECT_EQ(R("{% generation %}kept{% endgeneration %}"), "kept");
}

TEST(Jinja, ContextConversion) {
  EXPECT_EQ(
      R("{{ big }}{{ neg }}{{ flag }}{{ nested.a[1].b }}",
        R"({"big": 18446744073709551615, "neg": -5, "flag": false, "nested": {"a": [0, {"b": "deep"}]}})"),
      "1.8446744073709552e+19-5Falsedeep");
  Result<Template> t = Template::Parse("x");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Render(nlohmann::ordered_json::array()).ok());
  EXPECT_EQ(*t->Render(nlohmann::json::object()), "x");
}

TEST(Jinja, ParseErrorsCarryTheLine) {
  Result<Template> t = Template::Parse("a\nb\n{{ x | nope }}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "template syntax error (line 3): unknown filter 'nope'");
  t = Template::Parse("{% for x in %}{% endfor %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "template syntax error (line 1): expected an expression, found '%}'");
  t = Template::Parse("{% if a %}{% else %}{% else %}{% endif %}");
  EXPECT_FALSE(t.ok());
  TemplateLimits small;
  small.max_source_bytes = 4;
  EXPECT_FALSE(Template::Parse("hello", small).ok());
}

}  // namespace
}  // namespace meridian::engine::jinja
